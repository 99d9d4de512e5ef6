# Reference scores: R surveillance::farringtonFlexible with Noufaily et al. (2013) settings.
#   Rscript benchmarks/farrington_flexible.R IN.csv OUT.csv FIRST_SCORED_WEEK
# IN: series_id,week,count (weeks 1..n, weekly, 52 per year). OUT: series_id,week,upper,alarm for the
# weeks FIRST_SCORED_WEEK..n. Called by benchmarks/detect_noufaily.py.
suppressPackageStartupMessages(library(surveillance))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
first <- as.integer(args[3])
out <- list()
for (sid in unique(d$series_id)) {
  s <- d[d$series_id == sid, ]
  s <- s[order(s$week), ]
  n <- nrow(s)
  x <- sts(observed = matrix(s$count, ncol = 1), start = c(2000, 1), frequency = 52)
  ctl <- list(range = first:n, b = 5, w = 3, reweight = TRUE, weightsThreshold = 2.58,
              glmWarnings = FALSE, trend = TRUE, pThresholdTrend = 0.05, populationOffset = FALSE,
              noPeriods = 10, pastWeeksNotIncluded = 26, limit54 = c(5, 4),
              thresholdMethod = "nbPlugin", alpha = 0.01)
  r <- farringtonFlexible(x, control = ctl)
  out[[length(out) + 1]] <- data.frame(series_id = sid, week = first:n,
                                       upper = as.numeric(upperbound(r)),
                                       alarm = as.integer(alarms(r)))
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
