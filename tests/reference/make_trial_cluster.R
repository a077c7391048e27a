# Reference values for whatworks.trials.cluster: clusters per arm and power of two-arm cluster trials
# by Hayes & Bennett (1999, Int J Epidemiol 28:319-326) for rates, proportions and means (unmatched
# and pair-matched), and by the design effect with unequal cluster sizes (Eldridge, Ashby & Kerry
# 2006, Int J Epidemiol 35:1292-1300), with attrition.
#
# clusterPower is not packaged in Debian, so the published equations are written out here
# independently of the Python code. Power ignores the far rejection region, as the papers do.
#
# Run from the repository root:  Rscript tests/reference/make_trial_cluster.R
# Writes tests/reference/trial_cluster.json.

library(jsonlite)

hb_var <- function(outcome, a, b, size, k, sd) {
  within <- switch(outcome,
    rate = (a + b) / size,
    proportion = (a * (1 - a) + b * (1 - b)) / size,
    mean = (sd^2 + sd^2) / size)
  within + k^2 * (a^2 + b^2)
}
hb <- function(outcome, a, b, size, k, sd = NA, clusters = NULL, power = 0.8, alpha = 0.05,
               matched = FALSE, attrition = 0, direction = "increase") {
  y <- size * (1 - attrition)
  v <- if (is.null(b)) NA else hb_var(outcome, a, b, y, k, sd)
  c0 <- if (matched) 2 else 1
  za <- qnorm(1 - alpha / 2)
  if (is.null(b)) {  # the detectable intervention value, above (or below) the control value
    f <- function(x) abs(a - x) * sqrt((clusters - c0) / hb_var(outcome, a, x, y, k, sd)) -
      (za + qnorm(power))
    rng <- if (direction == "increase") c(a, if (outcome == "proportion") 1 - 1e-12 else a * 1e6)
           else c(1e-12, a)
    return(list(intervention = uniroot(f, rng, tol = 1e-14)$root))
  }
  if (is.null(clusters)) {
    exact <- c0 + (za + qnorm(power))^2 * v / (a - b)^2
    list(clusters_exact = exact, clusters_per_arm = ceiling(exact),
         power = pnorm(abs(a - b) * sqrt((ceiling(exact) - c0) / v) - za))
  } else {
    list(power = pnorm(sqrt((clusters - c0) * (a - b)^2 / v) - za))
  }
}
de <- function(m, icc, cv) 1 + ((cv^2 + 1) * m - 1) * icc
icc_trial <- function(outcome, m, icc, p0 = NA, p1 = NA, es = NA, cv = 0, clusters = NULL,
                      power = 0.8, alpha = 0.05, attrition = 0) {
  ma <- m * (1 - attrition)
  d <- de(ma, icc, cv)
  if (outcome == "binary") { num <- p0 * (1 - p0) + p1 * (1 - p1); delta <- p0 - p1 }
  else { num <- 2; delta <- es }
  za <- qnorm(1 - alpha / 2)
  if (is.null(clusters)) {
    exact <- (za + qnorm(power))^2 * num / delta^2 * d / ma
    list(clusters_exact = exact, clusters_per_arm = ceiling(exact), design_effect = d,
         power = pnorm(abs(delta) / sqrt(num * d / (ceiling(exact) * ma)) - za))
  } else list(power = pnorm(abs(delta) / sqrt(num * d / (clusters * ma)) - za), design_effect = d)
}

hb_cases <- list()
hb_add <- function(id, ...) {
  args <- list(...)
  hb_cases[[length(hb_cases) + 1]] <<- list(id = id, args = args, result = do.call(hb, args))
}
# rates: events per person-year; e.g. an incidence of 1% a year halved, 2000 person-years a cluster
hb_add("rate_clusters", outcome = "rate", a = 0.01, b = 0.005, size = 2000, k = 0.25)
hb_add("rate_clusters_matched", outcome = "rate", a = 0.01, b = 0.005, size = 2000, k = 0.15,
       matched = TRUE)
hb_add("rate_power", outcome = "rate", a = 0.01, b = 0.005, size = 2000, k = 0.25, clusters = 8,
       power = NULL)
# a section 47 rate of 0.08 a child-year, 5.5% higher with social workers in schools, 1000 pupils
hb_add("rate_s47_power", outcome = "rate", a = 0.08, b = 0.08 * 1.055, size = 1000, k = 0.3,
       clusters = 134, power = NULL)
hb_add("rate_s47_clusters_attrition", outcome = "rate", a = 0.08, b = 0.08 * 0.85, size = 1000,
       k = 0.3, attrition = 0.1, power = 0.9, alpha = 0.01)
hb_add("proportion_clusters", outcome = "proportion", a = 0.3, b = 0.2, size = 100, k = 0.2)
hb_add("proportion_clusters_matched_attrition", outcome = "proportion", a = 0.3, b = 0.2,
       size = 100, k = 0.2, matched = TRUE, attrition = 0.1)
hb_add("proportion_power", outcome = "proportion", a = 0.15, b = 0.1, size = 60, k = 0.25,
       clusters = 30, power = NULL)
hb_add("mean_clusters", outcome = "mean", a = 10, b = 9, sd = 4, size = 50, k = 0.1)
hb_add("mean_power_matched", outcome = "mean", a = 10, b = 9, sd = 4, size = 50, k = 0.05,
       matched = TRUE, clusters = 12, power = NULL)

# the detectable intervention value with a given number of clusters
hb_add("rate_detectable_increase", outcome = "rate", a = 0.017, b = NULL, size = 2000, k = 0.3,
       clusters = 134)
hb_add("rate_detectable_decrease_attrition", outcome = "rate", a = 0.017, b = NULL, size = 2000,
       k = 0.3, clusters = 134, direction = "decrease", attrition = 0.1)
hb_add("proportion_detectable_matched", outcome = "proportion", a = 0.3, b = NULL, size = 50, k = 0.2,
       clusters = 20, matched = TRUE, power = 0.9)

icc_cases <- list()
icc_add <- function(id, ...) {
  args <- list(...)
  icc_cases[[length(icc_cases) + 1]] <<- list(id = id, args = args, result = do.call(icc_trial, args))
}
icc_add("binary_equal", outcome = "binary", p0 = 0.3, p1 = 0.2, m = 30, icc = 0.05)
icc_add("binary_cv06_attrition", outcome = "binary", p0 = 0.3, p1 = 0.2, m = 30, icc = 0.05,
        cv = 0.6, attrition = 0.2)
icc_add("binary_power_cv", outcome = "binary", p0 = 0.4, p1 = 0.3, m = 20, icc = 0.02, cv = 0.8,
        clusters = 25, power = NULL)
icc_add("continuous_equal", outcome = "continuous", es = 0.25, m = 30, icc = 0.05)
icc_add("continuous_cv", outcome = "continuous", es = 0.2, m = 25, icc = 0.1, cv = 0.7,
        power = 0.9, alpha = 0.01)
icc_add("continuous_power", outcome = "continuous", es = 0.25, m = 30, icc = 0.05, clusters = 40,
        power = NULL)

out <- list(source = paste("Hayes & Bennett (1999) and Eldridge et al. (2006) written in",
                           R.version.string),
            hayes_bennett = hb_cases, icc = icc_cases,
            design_effect = list(list(m = 20, icc = 0.05, cv = 0, value = de(20, 0.05, 0)),
                                 list(m = 20, icc = 0.05, cv = 0.65, value = de(20, 0.05, 0.65)),
                                 list(m = 7.5, icc = 0.2, cv = 1.2, value = de(7.5, 0.2, 1.2))))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           "tests/reference/trial_cluster.json")
cat(length(hb_cases) + length(icc_cases), "cases written\n")
