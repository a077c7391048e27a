# Reference values for the escalc measures added in issue 9, from metafor 3.8 escalc, and for the
# generic inverse-variance input (GEN, RevMan's "generic inverse variance"; metafor has no such
# measure, so its cases are by hand from the published rule: yi = estimate, or log(estimate),
# and sei = (upper - lower) / (2 qnorm(1 - (1 - level)/2)) on that scale).
#
# Run from the repository root:  Rscript tests/reference/make_effects2.R
# Writes tests/reference/effects2.json in the format of effects.json (inputs, options, yi, vi).

suppressMessages(library(metafor))   # loads metadat for the dat.* datasets
library(jsonlite)

cases <- list()

add_case <- function(id, measure, args, opts = list(), source = "metafor") {
  res <- do.call(escalc, c(list(measure = measure), args, opts))
  cases[[length(cases) + 1]] <<- list(id = id, measure = measure, source = source,
                                       args = lapply(args, as.numeric), options = opts,
                                       yi = as.numeric(res$yi), vi = as.numeric(res$vi))
}

## --- 2x2 tables: phi, Yule's Q and Y, arcsine risk difference -------------------------------
nw <- dat.nielweise2007
tab <- list(ai = nw$ai, n1i = nw$n1i, ci = nw$ci, n2i = nw$n2i)
# constructed tables with zero cells of each kind and a missing cell
zero <- list(ai = c(0, 5, 3, 0, 7, NA), bi = c(10, 0, 12, 20, 8, 9),
             ci = c(4, 6, 0, 0, 5, 5), di = c(11, 9, 14, 18, 0, 10))
for (m in c("PHI", "YUQ", "YUY", "AS")) {
  add_case(paste0("nielweise2007_", m), m, tab)
  add_case(paste0("zero_cells_", m), m, zero)
  add_case(paste0("zero_cells_", m, "_add_all"), m, zero, list(add = 0.5, to = "all"))
  add_case(paste0("zero_cells_", m, "_none"), m, zero, list(to = "none"))
}
add_case("nielweise2007_PHI_ST", "PHI", tab, list(vtype = "ST"))
add_case("nielweise2007_PHI_CS", "PHI", tab, list(vtype = "CS"))

## --- pre-post (one group measured twice): standardised mean change ------------------------
# constructed: post mean m1i, pre mean m2i, their SDs, the pre-post correlation ri and n
pp <- list(m1i = c(26.1, 13.5, 9.8, 52.0, 101.2, 7.7, NA),
           m2i = c(23.4, 14.9, 8.1, 47.5, 99.0, 6.2, 5.0),
           sd1i = c(6.2, 3.9, 2.2, 10.4, 15.1, 1.9, 2.0),
           sd2i = c(5.8, 4.4, 2.5, 9.9, 14.2, 2.4, 2.1),
           ni = c(24, 61, 12, 140, 33, 8, 20),
           ri = c(0.55, 0.71, 0.3, 0.82, 0.64, -0.2, 0.5))
for (m in c("SMCC", "SMCR")) add_case(paste0("prepost_", m), m, pp)

## --- point-biserial correlation from two groups' means and SDs ---------------------------
gib <- dat.gibson2002
means <- list(m1i = gib$m1i, sd1i = gib$sd1i, n1i = gib$n1i, m2i = gib$m2i, sd2i = gib$sd2i,
              n2i = gib$n2i)
add_case("gibson2002_RPB", "RPB", means)
add_case("gibson2002_RPB_ST", "RPB", means, list(vtype = "ST"))
add_case("gibson2002_RPB_CS", "RPB", means, list(vtype = "CS"))

## --- incidence rate difference ------------------------------------------------------------
nw8 <- dat.nielweise2008
rates <- list(x1i = nw8$x1i, t1i = nw8$t1i, x2i = nw8$x2i, t2i = nw8$t2i)
add_case("nielweise2008_IRD", "IRD", rates)
zr <- list(x1i = c(0, 4, 0, 9), t1i = c(120, 80.5, 60, 300), x2i = c(3, 0, 0, 12),
           t2i = c(110, 95, 70, 250))
add_case("zero_counts_IRD", "IRD", zr)
add_case("zero_counts_IRD_add_all", "IRD", zr, list(add = 0.5, to = "all"))

## --- SMD -> log odds ratio (metafor computes Cohen's d from the means, then transforms) -------
for (m in c("D2ORL", "D2ORN")) add_case(paste0("gibson2002_", m), m, means)

## --- generic inverse variance (by hand) ---------------------------------------------------
gen <- function(id, est, lower, upper, level = 95, scale = "identity", se = NULL) {
  f <- if (scale == "log") log else identity
  crit <- qnorm(1 - (1 - level / 100) / 2)
  yi <- f(est)
  sei <- if (is.null(se)) (f(upper) - f(lower)) / (2 * crit) else se
  args <- if (is.null(se)) list(estimate = est, ci_lower = lower, ci_upper = upper)
          else list(estimate = est, se = se)
  opts <- list(scale = scale)
  if (level != 95) opts$level <- level
  cases[[length(cases) + 1]] <<- list(id = id, measure = "GEN", source = "hand",
                                       args = lapply(args, as.numeric), options = opts,
                                       yi = as.numeric(yi), vi = as.numeric(sei^2))
}
# adjusted odds ratios with 95% CIs, as a review extracts them
gen("adjusted_OR_log", c(1.45, 0.82, 2.10, 1.02), c(1.10, 0.61, 1.31, 0.95),
    c(1.91, 1.10, 3.37, 1.10), scale = "log")
gen("regression_coefficient_90", c(0.21, -0.05, 0.40), c(0.05, -0.19, 0.12),
    c(0.37, 0.09, 0.68), level = 90)
gen("hazard_ratio_se", c(0.75, 1.3), NULL, NULL, scale = "log", se = c(0.12, 0.2))
gen("difference_se", c(2.5, -1.1), NULL, NULL, se = c(0.9, 0.4))

out <- list(made_by = "tests/reference/make_effects2.R",
            r_version = R.version.string,
            metafor_version = as.character(packageVersion("metafor")),
            metadat_version = as.character(packageVersion("metadat")),
            cases = cases)
write_json(out, "tests/reference/effects2.json", digits = NA, auto_unbox = TRUE, na = "null",
           pretty = FALSE)
cat("wrote", length(cases), "escalc cases\n")
