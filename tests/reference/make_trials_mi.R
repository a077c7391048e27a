# Reference numbers for whatworks.trials.imputation.rubin. Run from the repository root:
#   Rscript tests/reference/make_trials_mi.R
# Writes tests/reference/trials_mi.json: mice::pool.scalar (Rubin's rules, Barnard-Rubin degrees
# of freedom) on three sets of per-imputation estimates and variances.
suppressPackageStartupMessages({library(mice); library(jsonlite)})
set.seed(12)
cases <- list(
  list(Q = c(0.21, 0.25, 0.18, 0.30, 0.22), U = c(0.010, 0.011, 0.009, 0.012, 0.010), n = Inf),
  list(Q = round(rnorm(20, 1.5, 0.3), 6), U = round(runif(20, 0.04, 0.06), 6), n = 60),
  list(Q = c(-0.05, -0.049, -0.051), U = c(0.0004, 0.00041, 0.00039), n = 25))
out <- lapply(cases, function(cs) {
  p <- pool.scalar(cs$Q, cs$U, n = cs$n, k = 1)
  list(Q = cs$Q, U = cs$U, dfcom = if (is.infinite(cs$n)) "Inf" else cs$n - 1,
       qbar = p$qbar, ubar = p$ubar, b = p$b, t = p$t, df = p$df, r = p$r, fmi = p$fmi)
})
writeLines(toJSON(list(cases = out, mice = as.character(packageVersion("mice"))), digits = NA,
                  auto_unbox = TRUE), "tests/reference/trials_mi.json")
