# Reference values for the Knapp-Hartung edge case of identical effects (the factor s2 is 0),
# produced by metafor's rma. Run from the repository root:  Rscript tests/reference/make_knha_identical.R
# Writes tests/reference/knha_identical.json (NA is written as null).
suppressMessages({
  library(metafor)
  library(jsonlite)
})
cases <- list(
  three_identical = list(yi = c(0.2, 0.2, 0.2), vi = c(0.01, 0.01, 0.01)),
  four_identical_unequal_v = list(yi = c(-0.35, -0.35, -0.35, -0.35), vi = c(0.01, 0.02, 0.05, 0.03)),
  identical_logrr = list(yi = rep(log(271 / 749) - log(341 / 762), 3),
                         vi = rep(1 / 271 - 1 / 749 + 1 / 341 - 1 / 762, 3))
)
out <- list()
for (name in names(cases)) {
  d <- cases[[name]]
  for (test in c("knha", "adhoc")) {
    r <- rma(yi = d$yi, vi = d$vi, method = "REML", test = test)
    out[[paste(name, test, sep = ":")]] <- list(
      yi = I(d$yi), vi = I(d$vi), test = test, estimate = c(r$b), se = r$se, ci_lower = r$ci.lb,
      ci_upper = r$ci.ub, tau2 = r$tau2, qm = if (is.na(r$QM)) NULL else r$QM,
      p_value = r$pval, pi_lower = predict(r)$pi.lb, pi_upper = predict(r)$pi.ub)
  }
}
out$metafor_version <- as.character(packageVersion("metafor"))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           "tests/reference/knha_identical.json")
