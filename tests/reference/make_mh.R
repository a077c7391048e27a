# Reference values for whatworks.synthesis.mantel_haenszel, produced by metafor's rma.mh and
# rma.peto. Run from the repository root:  Rscript tests/reference/make_mh.R
# Writes tests/reference/mh.json with the input counts and metafor's results at full precision.
suppressMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

datasets <- list()
add_ds <- function(name, d, form) {
  # I() keeps one-study columns as JSON arrays under auto_unbox.
  datasets[[name]] <<- c(list(form = form), lapply(as.list(d), I))
}

bcg <- dat.bcg
add_ds("bcg", data.frame(ai = bcg$tpos, bi = bcg$tneg, ci = bcg$cpos, di = bcg$cneg), "abcd")
for (tab in c("6", "9", "10", "11", "12a", "12b")) {
  y <- dat.yusuf1985[dat.yusuf1985$table == tab, ]
  add_ds(paste0("yusuf1985_table", tab),
         data.frame(ai = y$ai, n1i = y$n1i, ci = y$ci, n2i = y$n2i), "an1cn2")
}
co <- dat.collins1985a
add_ds("collins1985a_bleeding", data.frame(ai = co$b.xti, n1i = co$nti, ci = co$b.xci, n2i = co$nci),
       "an1cn2")
add_ds("collins1985a_death", data.frame(ai = co$d.xti, n1i = co$nti, ci = co$d.xci, n2i = co$nci),
       "an1cn2")
add_ds("lee2004", data.frame(ai = dat.lee2004$ai, n1i = dat.lee2004$n1i, ci = dat.lee2004$ci,
                             n2i = dat.lee2004$n2i), "an1cn2")
add_ds("linde2005", data.frame(ai = dat.linde2005$ai, n1i = dat.linde2005$n1i,
                               ci = dat.linde2005$ci, n2i = dat.linde2005$n2i), "an1cn2")
# Constructed: single zero cells, a double-zero study (ai = ci = 0), an all-events study
# (bi = di = 0), a table of fractional counts and one with a missing count.
add_ds("constructed_zeros",
       data.frame(ai = c(0, 3, 0, 5, 2, 1, 4, 7, 2.5, NA),
                  bi = c(10, 7, 12, 20, 8, 9, 0, 30, 6.5, 5),
                  ci = c(0, 1, 4, 8, 3, 0, 6, 12, 1.5, 2),
                  di = c(12, 11, 9, 15, 7, 10, 0, 25, 9.5, 6)), "abcd")
# Constructed: the only zero cells are in a double-zero study (matters for to = "if0all").
add_ds("constructed_only_double_zero",
       data.frame(ai = c(0, 3, 6, 5, 2), bi = c(15, 7, 12, 20, 8),
                  ci = c(0, 1, 4, 8, 3), di = c(14, 11, 9, 15, 7)), "abcd")
# Edge cases: one table; two tables; a double-zero study beside one informative table.
add_ds("single_table", data.frame(ai = 3, bi = 7, ci = 1, di = 11), "abcd")
add_ds("two_tables", data.frame(ai = c(3, 2), bi = c(7, 14), ci = c(1, 1), di = c(11, 22)), "abcd")
add_ds("one_informative_one_double_zero",
       data.frame(ai = c(3, 0), bi = c(7, 5), ci = c(1, 0), di = c(11, 5)), "abcd")

# Constructed: a table with no one in group 1 (metafor includes it; it adds nothing to the
# Mantel-Haenszel sums), and one with no one in group 2 next to a table with no one in group 1.
add_ds("constructed_empty_arm",
       data.frame(ai = c(5, 0, 3, 7), n1i = c(20, 0, 15, 30), ci = c(3, 2, 1, 4),
                  n2i = c(20, 18, 15, 25)), "an1cn2")
add_ds("constructed_empty_arms",
       data.frame(ai = c(5, 0, 3, 7, 0), n1i = c(20, 10, 15, 30, 0), ci = c(3, 0, 1, 4, 1),
                  n2i = c(20, 0, 15, 25, 12)), "an1cn2")

fit_args <- function(ds) {
  if (ds$form == "abcd") list(ai = ds$ai, bi = ds$bi, ci = ds$ci, di = ds$di)
  else list(ai = ds$ai, n1i = ds$n1i, ci = ds$ci, n2i = ds$n2i)
}

num <- function(x) if (is.null(x)) NA else unname(as.numeric(x))

summarise <- function(r, method) {
  out <- list(
    k = r$k, k_yi = r$k.yi, estimate = num(r$beta), se = num(r$se), statistic = num(r$zval),
    p_value = num(r$pval), ci_lower = num(r$ci.lb), ci_upper = num(r$ci.ub),
    q = num(r$QE), q_p_value = num(r$QEp), i2 = num(r$I2), h2 = num(r$H2),
    yi = I(num(r$yi.f)), vi = I(num(r$vi.f)))
  if (method == "MH") {
    out$cmh <- num(r$MH); out$cmh_p_value <- num(r$MHp)
    out$tarone <- num(r$TA); out$tarone_p_value <- num(r$TAp); out$k_pos <- num(r$k.pos)
  }
  if (method == "PETO" || r$measure %in% c("OR", "RR")) {
    p <- predict(r, transf = exp)
    out$estimate_exp <- num(p$pred); out$ci_lower_exp <- num(p$ci.lb)
    out$ci_upper_exp <- num(p$ci.ub)
  }
  out
}

cases <- list()
run <- function(name, method, measure = "OR", add = 1/2, to = "only0", drop00 = TRUE,
                correct = TRUE, level = 95) {
  ds <- datasets[[name]]
  args <- c(fit_args(ds), list(add = add, to = to, drop00 = drop00, level = level))
  r <- suppressWarnings(if (method == "MH") {
    do.call(rma.mh, c(args, list(measure = measure, correct = correct)))
  } else {
    do.call(rma.peto, args)
  })
  cases[[length(cases) + 1]] <<- list(
    dataset = name, method = method, measure = if (method == "MH") measure else "OR",
    args = list(add = add, to = to, drop00 = drop00, correct = correct, level = level),
    result = summarise(r, method))
}

for (name in names(datasets)) {
  for (measure in c("OR", "RR", "RD")) {
    for (correct in c(TRUE, FALSE)) run(name, "MH", measure = measure, correct = correct)
  }
  run(name, "PETO")
}

# Zero-cell settings on the sparse datasets.
for (name in c("constructed_zeros", "constructed_only_double_zero", "yusuf1985_table9")) {
  for (measure in c("OR", "RR", "RD")) {
    for (to in c("all", "if0all", "none")) run(name, "MH", measure = measure, to = to)
    run(name, "MH", measure = measure, drop00 = FALSE)
    run(name, "MH", measure = measure, add = 0.25, level = 90)
    # Two values: the second applies to the counts used by the Mantel-Haenszel method itself.
    run(name, "MH", measure = measure, add = c(0.5, 0.5), to = c("only0", "only0"),
        drop00 = c(TRUE, TRUE))
    run(name, "MH", measure = measure, add = c(0.5, 0.5), to = c("only0", "all"),
        drop00 = c(FALSE, FALSE))
  }
  for (to in c("all", "if0all", "none")) run(name, "PETO", to = to)
  run(name, "PETO", drop00 = FALSE)
  run(name, "PETO", add = 0.25, level = 90)
  run(name, "PETO", add = c(0.5, 0.5), to = c("only0", "only0"), drop00 = c(TRUE, TRUE))
  run(name, "PETO", add = c(0.5, 0.5), to = c("only0", "all"), drop00 = c(FALSE, FALSE))
}

out <- list(
  generated_by = "tests/reference/make_mh.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  datasets = datasets,
  cases = cases)
write_json(out, "tests/reference/mh.json", digits = NA, auto_unbox = TRUE, na = "null",
           pretty = FALSE)
cat("wrote", length(cases), "cases\n")
