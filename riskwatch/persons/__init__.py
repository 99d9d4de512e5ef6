"""Identity resolution: parties into persons, repeat petitions, groups (issue 5)."""
