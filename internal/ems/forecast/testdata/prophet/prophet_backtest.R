#!/usr/bin/env Rscript
# Reference Prophet fit for comparing with package forecast (not run by tests).
# Usage: Rscript prophet_backtest.R HISTORY.csv UTC_OFFSET_H FROM TO OUT.csv
# For each local day D in [FROM, TO): fit Prophet (linear trend, daily and
# weekly seasonality, no yearly) on the 8 weeks of hours before D's local
# midnight, forecast D's 24 hours, write timestamp_utc,site,forecast_wh.
suppressMessages(library(prophet))
a <- commandArgs(trailingOnly = TRUE)
hist <- read.csv(a[1], stringsAsFactors = FALSE)
off <- as.numeric(a[2]) * 3600
from <- as.Date(a[3]); to <- as.Date(a[4])
hist$t <- as.numeric(as.POSIXct(hist$timestamp_utc, format = "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"))
names(hist)[3] <- "y"
out <- list()
for (site in sort(unique(hist$site))) {
  h <- hist[hist$site == site, ]
  for (d in seq(from, to - 1, by = "day")) {
    day <- as.numeric(as.POSIXct(as.Date(d, origin = "1970-01-01"), tz = "UTC")) - off
    tr <- h[h$t >= day - 56 * 86400 & h$t < day, ]
    if (nrow(tr) < 14 * 24 / 2) next
    # Local wall-clock time as naive UTC, so Prophet's seasonality is local.
    df <- data.frame(ds = as.POSIXct(tr$t + off, origin = "1970-01-01", tz = "UTC"), y = tr$y)
    m <- prophet(df, growth = "linear", daily.seasonality = TRUE, weekly.seasonality = TRUE,
                 yearly.seasonality = FALSE)
    fut <- data.frame(ds = as.POSIXct(day + off + (0:23) * 3600, origin = "1970-01-01", tz = "UTC"))
    p <- predict(m, fut)
    out[[length(out) + 1]] <- data.frame(
      timestamp_utc = format(as.POSIXct(day + (0:23) * 3600, origin = "1970-01-01", tz = "UTC"), "%Y-%m-%dT%H:%M:%SZ"),
      site = site, forecast_wh = round(pmax(p$yhat, 0)))
  }
}
write.csv(do.call(rbind, out), a[5], row.names = FALSE, quote = FALSE)
