# Reference numbers for whatworks.synthesis.plots (the subgroup subtotals and the test of subgroup
# differences drawn on a forest plot). Run from the repository root:
#   Rscript tests/reference/make_plots.R
# Writes tests/reference/plots.json. Subgroup totals are separate rma.uni fits per subgroup with the
# same tau2 estimator; the test of subgroup differences is the Q statistic of a common-effect model
# fitted to the subgroup estimates with their standard errors (Borenstein et al. 2009, ch. 19;
# the RevMan "test for subgroup differences").
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})
ctrl <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-15, stepadj = 0.5)
num <- function(x) unname(as.numeric(x))

bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
out <- list(metafor_version = as.character(packageVersion("metafor")),
            data = list(yi = num(bcg$yi), vi = num(bcg$vi), alloc = as.character(bcg$alloc),
                        author = as.character(bcg$author), year = num(bcg$year)),
            cases = list())
for (method in c("REML", "DL", "FE")) {
  for (test in c("z", "knha")) {
    overall <- rma(yi, vi, data = bcg, method = method, test = test, control = ctrl)
    groups <- unique(as.character(bcg$alloc))
    est <- se <- lb <- ub <- tau2 <- i2 <- qe <- qep <- numeric(0)
    for (g in groups) {
      f <- rma(yi, vi, data = bcg, subset = alloc == g, method = method, test = test, control = ctrl)
      est <- c(est, num(f$beta)); se <- c(se, num(f$se)); lb <- c(lb, num(f$ci.lb))
      ub <- c(ub, num(f$ci.ub)); tau2 <- c(tau2, num(f$tau2)); i2 <- c(i2, num(f$I2))
      qe <- c(qe, num(f$QE)); qep <- c(qep, num(f$QEp))
    }
    between <- rma(est, sei = se, method = "FE")
    out$cases[[length(out$cases) + 1]] <- list(
      method = method, test = test, groups = groups, estimate = est, se = se, ci_lb = lb,
      ci_ub = ub, tau2 = tau2, I2 = i2, QE = qe, QEp = qep,
      Q_between = num(between$QE), Q_between_df = length(groups) - 1,
      Q_between_p = num(between$QEp),
      overall = list(estimate = num(overall$beta), ci_lb = num(overall$ci.lb),
                     ci_ub = num(overall$ci.ub), pi_lb = num(predict(overall)$pi.lb),
                     pi_ub = num(predict(overall)$pi.ub)))
  }
}
write_json(out, "tests/reference/plots.json", digits = NA, auto_unbox = TRUE, pretty = FALSE)
