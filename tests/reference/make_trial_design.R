# Reference values for whatworks.trials.design: MDES, power and minimum required sample size of the
# 14 PowerUp! main-effect designs, and R's pwr.t.test.
#
# PowerUpR (GPL-3) is on CRAN only (not in Debian), so it is not used: the published formulas of
# Dong & Maynard (2013, J Res Educ Effectiveness 6:24-67, Table 3 / Appendix A) are written out here
# independently, design by design, as the sampling variance of the standardised impact and the
# degrees of freedom. MDES = M * sqrt(V) with M = qt(1 - alpha/tails, df) + qt(power, df); power from
# the noncentral t (both tails when two-tailed); the minimum required size is the ceiling of the
# root of MDES(size) = es found with uniroot on a continuous size (a different algorithm from the
# Python code's whole-number bisection). The four values PowerUpR and pwr publish (issue 12) are
# checked at the end and the script stops if any disagrees.
#
# Run from the repository root:  Rscript tests/reference/make_trial_design.R
# Writes tests/reference/trial_design.json.

library(jsonlite)
library(pwr)

pq <- function(a) a$p * (1 - a$p)
`%||%` <- function(x, y) if (is.null(x)) y else x

# each design: df(a) and V(a), where a is a list of PowerUp! parameters (missing ones default to 0)
designs <- list(
  IRA = list(df = function(a) a$n - a$g1 - 2,
             V = function(a) (1 - a$r21) / (pq(a) * a$n)),
  BIRA2_1c = list(df = function(a) a$n * a$J - a$J - a$g1 - 1,
                  V = function(a) (1 - a$r21) / (pq(a) * a$n * a$J)),
  BIRA2_1f = list(df = function(a) a$n * a$J - 2 * a$J - a$g1,
                  V = function(a) (1 - a$r21) / (pq(a) * a$n * a$J)),
  BIRA2_1r = list(df = function(a) a$J - a$g2 - 1,
                  V = function(a) a$rho2 * a$omega2 * (1 - a$r2t2) / a$J +
                    (1 - a$rho2) * (1 - a$r21) / (pq(a) * a$n * a$J)),
  BIRA3_1r = list(df = function(a) a$K - a$g3 - 1,
                  V = function(a) a$rho3 * a$omega3 * (1 - a$r2t3) / a$K +
                    a$rho2 * a$omega2 * (1 - a$r2t2) / (a$J * a$K) +
                    (1 - a$rho2 - a$rho3) * (1 - a$r21) / (pq(a) * a$n * a$J * a$K)),
  BIRA4_1r = list(df = function(a) a$L - a$g4 - 1,
                  V = function(a) a$rho4 * a$omega4 * (1 - a$r2t4) / a$L +
                    a$rho3 * a$omega3 * (1 - a$r2t3) / (a$K * a$L) +
                    a$rho2 * a$omega2 * (1 - a$r2t2) / (a$J * a$K * a$L) +
                    (1 - a$rho2 - a$rho3 - a$rho4) * (1 - a$r21) / (pq(a) * a$n * a$J * a$K * a$L)),
  CRA2_2r = list(df = function(a) a$J - a$g2 - 2,
                 V = function(a) (a$rho2 * (1 - a$r22) + (1 - a$rho2) * (1 - a$r21) / a$n) /
                   (pq(a) * a$J)),
  CRA3_3r = list(df = function(a) a$K - a$g3 - 2,
                 V = function(a) (a$rho3 * (1 - a$r23) + a$rho2 * (1 - a$r22) / a$J +
                   (1 - a$rho2 - a$rho3) * (1 - a$r21) / (a$n * a$J)) / (pq(a) * a$K)),
  CRA4_4r = list(df = function(a) a$L - a$g4 - 2,
                 V = function(a) (a$rho4 * (1 - a$r24) + a$rho3 * (1 - a$r23) / a$K +
                   a$rho2 * (1 - a$r22) / (a$J * a$K) +
                   (1 - a$rho2 - a$rho3 - a$rho4) * (1 - a$r21) / (a$n * a$J * a$K)) / (pq(a) * a$L)),
  BCRA3_2f = list(df = function(a) a$K * (a$J - 2) - a$g2,
                  V = function(a) (a$rho2 * (1 - a$r22) + (1 - a$rho2) * (1 - a$r21) / a$n) /
                    (pq(a) * a$J * a$K)),
  BCRA3_2r = list(df = function(a) a$K - a$g3 - 1,
                  V = function(a) a$rho3 * a$omega3 * (1 - a$r2t3) / a$K +
                    (a$rho2 * (1 - a$r22) + (1 - a$rho2 - a$rho3) * (1 - a$r21) / a$n) /
                    (pq(a) * a$J * a$K)),
  BCRA4_2r = list(df = function(a) a$L - a$g4 - 1,
                  V = function(a) a$rho4 * a$omega4 * (1 - a$r2t4) / a$L +
                    a$rho3 * a$omega3 * (1 - a$r2t3) / (a$K * a$L) +
                    (a$rho2 * (1 - a$r22) + (1 - a$rho2 - a$rho3 - a$rho4) * (1 - a$r21) / a$n) /
                    (pq(a) * a$J * a$K * a$L)),
  BCRA4_3f = list(df = function(a) a$L * (a$K - 2) - a$g3,
                  V = function(a) (a$rho3 * (1 - a$r23) + a$rho2 * (1 - a$r22) / a$J +
                    (1 - a$rho2 - a$rho3) * (1 - a$r21) / (a$n * a$J)) / (pq(a) * a$K * a$L)),
  BCRA4_3r = list(df = function(a) a$L - a$g4 - 1,
                  V = function(a) a$rho4 * a$omega4 * (1 - a$r2t4) / a$L +
                    (a$rho3 * (1 - a$r23) + a$rho2 * (1 - a$r22) / a$J +
                     (1 - a$rho2 - a$rho3 - a$rho4) * (1 - a$r21) / (a$n * a$J)) /
                    (pq(a) * a$K * a$L))
)
top <- c(IRA = "n", BIRA2_1c = "J", BIRA2_1f = "J", BIRA2_1r = "J", BIRA3_1r = "K", BIRA4_1r = "L",
         CRA2_2r = "J", CRA3_3r = "K", CRA4_4r = "L", BCRA3_2f = "K", BCRA3_2r = "K",
         BCRA4_2r = "L", BCRA4_3f = "L", BCRA4_3r = "L")

fill <- function(a) {
  for (nm in c("rho2", "rho3", "rho4", "omega2", "omega3", "omega4", "r21", "r22", "r23", "r24",
               "r2t2", "r2t3", "r2t4", "g1", "g2", "g3", "g4")) a[[nm]] <- a[[nm]] %||% 0
  a$p <- a$p %||% 0.5
  a
}
mult <- function(df, alpha, power, two) qt(1 - alpha / (if (two) 2 else 1), df) + qt(power, df)
calc_mdes <- function(d, a, alpha, power, two) {
  a <- fill(a); df <- designs[[d]]$df(a)
  mult(df, alpha, power, two) * sqrt(designs[[d]]$V(a))
}
calc_power <- function(d, a, es, alpha, two) {
  a <- fill(a); df <- designs[[d]]$df(a); l <- es / sqrt(designs[[d]]$V(a))
  if (two) {
    cr <- qt(1 - alpha / 2, df)
    pt(cr, df, ncp = l, lower.tail = FALSE) + pt(-cr, df, ncp = l)
  } else pt(qt(1 - alpha, df), df, ncp = l, lower.tail = FALSE)
}
calc_mrss <- function(d, a, es, alpha, power, two, solve_for) {
  f <- function(s) { b <- a; b[[solve_for]] <- s; calc_mdes(d, b, alpha, power, two) - es }
  # the smallest continuous size with df >= 1, then the root
  dfm1 <- function(s) { b <- fill(a); b[[solve_for]] <- s; designs[[d]]$df(b) - 1 }
  lo <- if (dfm1(1) >= 0) 1 else uniroot(dfm1, c(1, 1e6), tol = 1e-12)$root + 1e-9
  if (f(lo) <= 0) return(ceiling(lo))
  root <- uniroot(f, c(lo, 1e7), tol = 1e-10)$root
  size <- ceiling(root - 1e-9)
  stopifnot(f(size) <= 0, size - 1 < lo || f(size - 1) > 0)
  size
}

cases <- list()
add <- function(id, design, what, args, es = NULL, alpha = 0.05, power = 0.8, two = TRUE,
                solve_for = NULL) {
  value <- switch(what,
    mdes = calc_mdes(design, args, alpha, power, two),
    power = calc_power(design, args, es, alpha, two),
    mrss = calc_mrss(design, args, es, alpha, power, two, solve_for %||% top[[design]]))
  cases[[length(cases) + 1]] <<- list(id = id, design = design, what = what, args = args,
                                      es = es, alpha = alpha, power = power, two_tailed = two,
                                      solve_for = if (what == "mrss") (solve_for %||% top[[design]]) else NULL,
                                      value = value)
}

# per design: parameters of a plausible trial, and the MDES / power / MRSS calculations on them
specs <- list(
  IRA = list(n = 400, r21 = 0.3, g1 = 2),
  BIRA2_1c = list(n = 20, J = 15, r21 = 0.4, g1 = 1),
  BIRA2_1f = list(n = 20, J = 15, r21 = 0.4, g1 = 1),
  BIRA2_1r = list(n = 15, J = 20, rho2 = 0.35, omega2 = 0.1, r21 = 0.55, r2t2 = 0.5, g2 = 1),
  BIRA3_1r = list(n = 10, J = 4, K = 20, rho2 = 0.15, rho3 = 0.1, omega2 = 0.1, omega3 = 0.2,
                  r21 = 0.5, r2t2 = 0.3, r2t3 = 0.2, g3 = 1),
  BIRA4_1r = list(n = 10, J = 4, K = 4, L = 20, rho2 = 0.15, rho3 = 0.1, rho4 = 0.05,
                  omega2 = 0.1, omega3 = 0.2, omega4 = 0.3, r21 = 0.5, r2t2 = 0.3, r2t3 = 0.2,
                  r2t4 = 0.1, g4 = 1),
  CRA2_2r = list(n = 60, J = 40, rho2 = 0.2, r21 = 0.5, r22 = 0.5, g2 = 1),
  CRA3_3r = list(n = 10, J = 2, K = 83, rho2 = 0.06, rho3 = 0.18, r21 = 0.55, r22 = 0.5,
                 r23 = 0.45, g3 = 1, p = 0.4),
  CRA4_4r = list(n = 10, J = 3, K = 4, L = 30, rho2 = 0.1, rho3 = 0.08, rho4 = 0.05,
                 r21 = 0.4, r22 = 0.3, r23 = 0.2, r24 = 0.5, g4 = 2),
  BCRA3_2f = list(n = 20, J = 6, K = 12, rho2 = 0.15, r21 = 0.4, r22 = 0.5, g2 = 1),
  BCRA3_2r = list(n = 20, J = 6, K = 21, rho2 = 0.12, rho3 = 0.08, omega3 = 0.2, r21 = 0.4,
                  r22 = 0.5, r2t3 = 0.3, g3 = 1),
  BCRA4_2r = list(n = 20, J = 4, K = 5, L = 15, rho2 = 0.12, rho3 = 0.08, rho4 = 0.05,
                  omega3 = 0.2, omega4 = 0.3, r21 = 0.4, r22 = 0.5, r2t3 = 0.3, r2t4 = 0.2, g4 = 1),
  BCRA4_3f = list(n = 20, J = 4, K = 6, L = 10, rho2 = 0.12, rho3 = 0.08, r21 = 0.4, r22 = 0.5,
                  r23 = 0.3, g3 = 1),
  BCRA4_3r = list(n = 20, J = 4, K = 6, L = 20, rho2 = 0.12, rho3 = 0.08, rho4 = 0.05,
                  omega4 = 0.3, r21 = 0.4, r22 = 0.5, r23 = 0.3, r2t4 = 0.2, g4 = 1)
)
for (d in names(specs)) {
  a <- specs[[d]]
  add(paste0(d, "_mdes"), d, "mdes", a)
  add(paste0(d, "_mdes_one_tailed_p30_power90"), d, "mdes", modifyList(a, list(p = 0.3)),
      power = 0.9, two = FALSE)
  es <- round(calc_mdes(d, a, 0.05, 0.8, TRUE), 2) + 0.01
  add(paste0(d, "_power"), d, "power", a, es = es)
  add(paste0(d, "_power_one_tailed_alpha10"), d, "power", a, es = es, alpha = 0.10, two = FALSE)
  b <- a; b[[top[[d]]]] <- NULL
  add(paste0(d, "_mrss"), d, "mrss", b, es = 0.2)
  add(paste0(d, "_mrss_power90"), d, "mrss", b, es = 0.3, power = 0.9)
}
# sizes other than the top level
add("CRA2_2r_mrss_n", "CRA2_2r", "mrss", list(J = 60, rho2 = 0.1, r21 = 0.5, r22 = 0.5, g2 = 1),
    es = 0.25, solve_for = "n")
add("CRA3_3r_mrss_J", "CRA3_3r", "mrss", list(n = 20, K = 40, rho2 = 0.1, rho3 = 0.05),
    es = 0.3, solve_for = "J")
add("BIRA2_1c_mrss_n", "BIRA2_1c", "mrss", list(J = 10, r21 = 0.2), es = 0.2, solve_for = "n")
# the issue's example with defaults (no covariates)
add("CRA2_2r_mrss_issue", "CRA2_2r", "mrss", list(rho2 = 0.2, n = 4), es = 0.25)

# R's pwr.t.test; the reference is the exact root of pwr's own power function (pwr's uniroot stops
# at about 1e-4, so its printed n is only kept for the cross-check below)
tcases <- list()
tadd <- function(id, d = NULL, n = NULL, power = NULL, alpha = 0.05, type = "two.sample",
                 alternative = "two.sided") {
  pw <- function(dd, nn) pwr.t.test(n = nn, d = dd, sig.level = alpha, type = type,
                                    alternative = alternative)$power
  if (is.null(power)) value <- pw(d, n)
  else if (is.null(n)) value <- uniroot(function(x) pw(d, x) - power, c(2 + 1e-10, 1e5),
                                        tol = 1e-12)$root
  else {
    sgn <- if (alternative == "less") -1 else 1
    value <- sgn * uniroot(function(x) pw(sgn * x, n) - power, c(1e-8, 10), tol = 1e-13)$root
  }
  tcases[[length(tcases) + 1]] <<- list(id = id, d = d, n = n, power = power, alpha = alpha,
                                        type = type, alternative = alternative, value = value)
}
tadd("n_d05_p80", d = 0.5, power = 0.8)
tadd("n_d02_p90_onesample", d = 0.2, power = 0.9, type = "one.sample")
tadd("n_d03_p80_paired_greater", d = 0.3, power = 0.8, type = "paired", alternative = "greater")
tadd("power_d04_n50", d = 0.4, n = 50)
tadd("power_d04_n50_less", d = -0.4, n = 50, alternative = "less")
tadd("power_d03_n20_onesample_alpha01", d = 0.3, n = 20, alpha = 0.01, type = "one.sample")
tadd("d_n30_p80", n = 30, power = 0.8)
tadd("d_n30_p80_less", n = 30, power = 0.8, alternative = "less")

# cross-checks against the values PowerUpR and pwr publish (issue 12)
chk <- function(got, want, tol) if (abs(got - want) > tol) stop(sprintf("%g != %g", got, want))
chk(calc_mdes("CRA2_2r", specs$CRA2_2r, 0.05, 0.8, TRUE), 0.297201, 5e-7)
chk(calc_power("CRA3_3r", specs$CRA3_3r, 0.23, 0.05, TRUE), 0.799818, 5e-7)
chk(calc_mrss("CRA2_2r", list(rho2 = 0.2, n = 4), 0.25, 0.05, 0.8, TRUE, "J"), 203, 0)
chk(pwr.t.test(d = 0.5, power = 0.8)$n, 63.7656, 5e-5)

out <- list(source = paste("Dong & Maynard (2013) formulas written independently in R",
                           R.version.string, "; pwr", as.character(packageVersion("pwr"))),
            designs = cases, t_test = tcases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           "tests/reference/trial_design.json")
cat(length(cases), "design values and", length(tcases), "t-test values written\n")
