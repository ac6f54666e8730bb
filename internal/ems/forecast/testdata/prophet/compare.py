#!/usr/bin/env python3
"""nMAE of several forecast CSVs (timestamp_utc,site,forecast_wh) against the
actuals, on the hours that every forecast and the actuals have (not run by tests).
Usage: compare.py ACTUALS.csv NAME=FORECAST.csv ..."""
import csv, math, sys

def load(path):
    with open(path) as f:
        r = csv.reader(f)
        next(r)
        return {(row[0], row[1]): float(row[2]) for row in r}

actual = load(sys.argv[1])
fcs = [(a.split('=', 1)[0], load(a.split('=', 1)[1])) for a in sys.argv[2:]]
keys = set(actual)
for _, fc in fcs:
    keys &= set(fc)
tot = sum(actual[k] for k in keys)
for name, fc in fcs:
    ae = sum(abs(fc[k] - actual[k]) for k in keys)
    se = sum((fc[k] - actual[k]) ** 2 for k in keys)
    print(f"{name:22s} nMAE {ae / tot:.3f}  RMSE {math.sqrt(se / len(keys)):6.0f} Wh  hours {len(keys)}")
