# Reference values for whatworks.effects, from metafor 3.8 escalc (and, where metafor 3.8 has no
# function, independent R implementations of the published equations, marked "hand").
#
# Run from the repository root:  Rscript tests/reference/make_effects.R
# Writes tests/reference/effects.json: every case holds its inputs (so the Python tests feed
# exactly the same numbers), the escalc options used, and the resulting yi and vi.

suppressMessages(library(metafor))   # loads metadat for the dat.* datasets
library(jsonlite)

cases <- list()

# Record one escalc call: `args` is a named list of input vectors, `opts` the escalc options.
add_case <- function(id, measure, args, opts = list(), source = "metafor") {
  res <- do.call(escalc, c(list(measure = measure), args, opts))
  cases[[length(cases) + 1]] <<- list(id = id, measure = measure, source = source,
                                       args = lapply(args, as.numeric), options = opts,
                                       yi = as.numeric(res$yi), vi = as.numeric(res$vi))
}


## --- 2x2 tables -----------------------------------------------------------------------------
bcg <- dat.bcg
tab_bcg <- list(ai = bcg$tpos, bi = bcg$tneg, ci = bcg$cpos, di = bcg$cneg)
tab_bcg_n <- list(ai = bcg$tpos, n1i = bcg$tpos + bcg$tneg, ci = bcg$cpos,
                  n2i = bcg$cpos + bcg$cneg)
yus <- dat.yusuf1985
tab_yus <- list(ai = yus$ai, n1i = yus$n1i, ci = yus$ci, n2i = yus$n2i)
# constructed: zero cells of every kind, a double-zero table, an all-zero-events table and a
# missing cell
zero <- list(ai = c(0, 5, 0, 3, 7, 2, NA), bi = c(10, 5, 10, 0, 13, 0, 9),
             ci = c(3, 0, 0, 4, 6, 5, 4), di = c(7, 10, 10, 0, 14, 8, 11))
nozero <- list(ai = c(4, 6, 9), bi = c(10, 15, 11), ci = c(3, 8, 2), di = c(12, 7, 20))

for (m in c("OR", "RR", "RD", "PETO")) {
  add_case(paste0("bcg_", m), m, tab_bcg)
  add_case(paste0("bcg_n_", m), m, tab_bcg_n)
  add_case(paste0("yusuf1985_", m), m, tab_yus)
  for (to in c("only0", "all", "if0all", "none")) {
    add_case(paste0("zero_", m, "_", to), m, zero, list(to = to))
    add_case(paste0("zero_", m, "_", to, "_drop00"), m, zero, list(to = to, drop00 = TRUE))
  }
  add_case(paste0("zero_", m, "_add025"), m, zero, list(add = 0.25))
  add_case(paste0("nozero_", m, "_if0all"), m, nozero, list(to = "if0all"))
}

## --- means and SDs ------------------------------------------------------------------------
nor <- dat.normand1999
means_nor <- list(m1i = nor$m1i, m2i = nor$m2i, sd1i = nor$sd1i, sd2i = nor$sd2i,
                  n1i = nor$n1i, n2i = nor$n2i)
cur <- dat.curtis1998
means_cur <- list(m1i = cur$m1i, m2i = cur$m2i, sd1i = cur$sd1i, sd2i = cur$sd2i,
                  n1i = cur$n1i, n2i = cur$n2i)
# constructed: tiny and very large groups (exercises the exact gamma correction) and a missing SD
means_odd <- list(m1i = c(1, 10.5, 3, 2.2), m2i = c(0, 9.8, 2, 2.0), sd1i = c(1, 2.5, NA, 0.4),
                  sd2i = c(2, 2.9, 1, 0.5), n1i = c(2, 1000, 10, 4), n2i = c(3, 1200, 12, 3))

for (nm in c("normand1999", "curtis1998", "odd")) {
  args <- switch(nm, normand1999 = means_nor, curtis1998 = means_cur, odd = means_odd)
  for (v in c("LS", "HO")) add_case(paste0(nm, "_MD_", v), "MD", args, list(vtype = v))
  for (v in c("LS", "UB", "LS2", "AV")) add_case(paste0(nm, "_SMD_", v), "SMD", args,
                                                 list(vtype = v))
  add_case(paste0(nm, "_SMDH"), "SMDH", args)
  for (v in c("LS", "HO")) add_case(paste0(nm, "_ROM_", v), "ROM", args, list(vtype = v))
}

# SMD from t statistics and Cohen's d (metafor 3.8 arguments ti and di), and mixed sources:
# rows 1-3 means, rows 4-5 ti, rows 6-7 di, row 8 ti and di (di wins), row 9 nothing usable
sp <- with(nor, sqrt(((n1i - 1) * sd1i^2 + (n2i - 1) * sd2i^2) / (n1i + n2i - 2)))
d_nor <- (nor$m1i - nor$m2i) / sp
t_nor <- d_nor / sqrt(1 / nor$n1i + 1 / nor$n2i)
add_case("normand1999_SMD_ti", "SMD", list(ti = t_nor, n1i = nor$n1i, n2i = nor$n2i))
add_case("normand1999_SMD_di", "SMD", list(di = d_nor, n1i = nor$n1i, n2i = nor$n2i))
mask <- function(x, keep) { x[-keep] <- NA; x }
mixed <- list(m1i = mask(nor$m1i, 1:3), m2i = mask(nor$m2i, 1:3), sd1i = mask(nor$sd1i, 1:3),
              sd2i = mask(nor$sd2i, 1:3), n1i = nor$n1i, n2i = nor$n2i,
              ti = mask(t_nor + 0.1, c(4, 5, 8)), di = mask(d_nor - 0.05, c(6, 7, 8)))
add_case("normand1999_SMD_mixed", "SMD", mixed)

# SMD from a two-sided p-value (signed by the direction of the effect) and from F = t^2 with a
# sign. metafor 3.8 has no pi/fi arguments: the t statistic is recovered in R with qt() and
# passed as ti. Python gets pi (signed) or fi and sign.
df_nor <- nor$n1i + nor$n2i - 2
p_nor <- 2 * pt(abs(t_nor), df_nor, lower.tail = FALSE)
p_signed <- sign(t_nor) * p_nor
t_from_p <- sign(p_signed) * qt(abs(p_signed) / 2, df_nor, lower.tail = FALSE)
res <- escalc("SMD", ti = t_from_p, n1i = nor$n1i, n2i = nor$n2i)
cases[[length(cases) + 1]] <- list(id = "normand1999_SMD_pi", measure = "SMD",
                                   source = "metafor (ti = qt(p/2))",
                                   args = list(pi = p_signed, n1i = nor$n1i, n2i = nor$n2i),
                                   options = list(), yi = res$yi, vi = res$vi)
res <- escalc("SMD", ti = sign(t_nor) * sqrt(t_nor^2), n1i = nor$n1i, n2i = nor$n2i)
cases[[length(cases) + 1]] <- list(id = "normand1999_SMD_fi", measure = "SMD",
                                   source = "metafor (ti = sign * sqrt(F))",
                                   args = list(fi = t_nor^2, sign = sign(t_nor),
                                               n1i = nor$n1i, n2i = nor$n2i),
                                   options = list(), yi = res$yi, vi = res$vi)

# Cohen's d (no small-sample correction): metafor 3.8 has no `correct` argument, so by hand:
# d = (m1 - m2)/sp, v = 1/n1 + 1/n2 + d^2/(2(n1 + n2))
v_d <- 1 / nor$n1i + 1 / nor$n2i + d_nor^2 / (2 * (nor$n1i + nor$n2i))
cases[[length(cases) + 1]] <- list(id = "normand1999_SMD_uncorrected", measure = "SMD",
                                   source = "hand", args = means_nor,
                                   options = list(correct = FALSE), yi = d_nor, vi = v_d)

## --- correlations -------------------------------------------------------------------------
mcd <- dat.mcdaniel1994
mol <- dat.molloy2014
cor_odd <- list(ri = c(0.99, -0.95, 0, 0.2, NA, 1), ni = c(10, 5, 30, 4, 20, 50))
for (nm in c("mcdaniel1994", "molloy2014", "odd")) {
  args <- switch(nm, mcdaniel1994 = list(ri = mcd$ri, ni = mcd$ni),
                 molloy2014 = list(ri = mol$ri, ni = mol$ni), odd = cor_odd)
  for (v in c("LS", "AV")) add_case(paste0(nm, "_COR_", v), "COR", args, list(vtype = v))
  for (v in c("LS", "UB", "AV")) add_case(paste0(nm, "_UCOR_", v), "UCOR", args,
                                          list(vtype = v))
  add_case(paste0(nm, "_ZCOR"), "ZCOR", args)
}
alo <- dat.aloe2013
for (m in c("PCOR", "ZPCOR")) {
  add_case(paste0("aloe2013_", m), m, list(ti = alo$tval, ni = alo$n, mi = alo$preds))
  add_case(paste0("odd_", m), m, list(ti = c(-3.1, 0, 12, NA), ni = c(30, 12, 400, 50),
                                       mi = c(1, 5, 20, 3)))
}

## --- proportions and rates ------------------------------------------------------------------
pri <- dat.pritz1997
prop_zero <- list(xi = c(0, 3, 10, 10, NA, 1), ni = c(10, 10, 10, 20, 15, 1))
for (m in c("PR", "PLN", "PLO", "PAS", "PFT")) {
  add_case(paste0("pritz1997_", m), m, list(xi = pri$xi, ni = pri$ni))
  add_case(paste0("pritz1997_mi_", m), m, list(xi = pri$xi, mi = pri$ni - pri$xi))
  for (to in c("only0", "all", "if0all", "none"))
    add_case(paste0("propzero_", m, "_", to), m, prop_zero, list(to = to))
  add_case(paste0("propzero_", m, "_add05"), m, prop_zero, list(add = 0.5))
}
har <- dat.hart1999
rate_zero <- list(xi = c(0, 3, 12, NA), ti = c(100, 50, 80.5, 20))
for (m in c("IR", "IRLN")) {
  add_case(paste0("hart1999_", m), m, list(xi = har$x1i, ti = har$t1i))
  for (to in c("only0", "all", "if0all", "none"))
    add_case(paste0("ratezero_", m, "_", to), m, rate_zero, list(to = to))
}
irr_hart <- list(x1i = har$x1i, t1i = har$t1i, x2i = har$x2i, t2i = har$t2i)
irr_zero <- list(x1i = c(0, 3, 0, 7, NA), t1i = c(10, 20, 5, 40, 10),
                 x2i = c(4, 0, 0, 9, 2), t2i = c(10, 30, 5, 35, 12))
add_case("hart1999_IRR", "IRR", irr_hart)
for (to in c("only0", "all", "if0all", "none")) {
  add_case(paste0("irrzero_IRR_", to), "IRR", irr_zero, list(to = to))
  add_case(paste0("irrzero_IRR_", to, "_drop00"), "IRR", irr_zero, list(to = to, drop00 = TRUE))
}

## --- conversions --------------------------------------------------------------------------
conversions <- list()
# log OR -> SMD (Chinn 2000): metafor's OR2DL on the same tables
or_bcg <- escalc("OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
or2d <- escalc("OR2DL", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
conversions$lnor_to_smd <- list(source = "metafor OR2DL", args = tab_bcg,
                                input_yi = or_bcg$yi, input_vi = or_bcg$vi,
                                yi = or2d$yi, vi = or2d$vi)
# SMD -> log OR: metafor's D2ORL transforms Cohen's d (uncorrected) and its LS variance
d2or <- do.call(escalc, c(list(measure = "D2ORL"), means_nor))
conversions$smd_to_lnor <- list(source = "metafor D2ORL", args = means_nor,
                                input_yi = d_nor, input_vi = v_d, yi = d2or$yi, vi = d2or$vi)
# r <-> d (Borenstein et al. 2009, ch. 7), by hand; a = (n1 + n2)^2/(n1 n2), 4 if equal groups
r_in <- c(-0.5, 0, 0.3, 0.7, 0.95); vr_in <- c(0.01, 0.02, 0.0049, 0.003, 0.0004)
n1_in <- c(20, 50, 33, 100, 12); n2_in <- c(25, 50, 40, 60, 30)
a_n <- (n1_in + n2_in)^2 / (n1_in * n2_in)
conversions$r_to_smd <- list(source = "hand", input_yi = r_in, input_vi = vr_in,
                             yi = 2 * r_in / sqrt(1 - r_in^2), vi = 4 * vr_in / (1 - r_in^2)^3)
conversions$r_to_smd_n <- list(source = "hand", input_yi = r_in, input_vi = vr_in,
                               n1i = n1_in, n2i = n2_in,
                               yi = sqrt(a_n) * r_in / sqrt(1 - r_in^2),
                               vi = a_n * vr_in / (1 - r_in^2)^3)
d_in <- c(-1.2, 0, 0.2, 0.5, 2.5); vd_in <- c(0.1, 0.05, 0.0205, 0.04, 0.3)
conversions$smd_to_r <- list(source = "hand", input_yi = d_in, input_vi = vd_in,
                             yi = d_in / sqrt(d_in^2 + 4), vi = 16 * vd_in / (d_in^2 + 4)^3)
conversions$smd_to_r_n <- list(source = "hand", input_yi = d_in, input_vi = vd_in,
                               n1i = n1_in, n2i = n2_in, yi = d_in / sqrt(d_in^2 + a_n),
                               vi = a_n^2 * vd_in / (d_in^2 + a_n)^3)

## --- cluster adjustment (Hedges 2007, equal cluster sizes; by hand) ----------------------------
cl <- list(d = c(0.3, -0.2, 0.5, 0.1, 0.25), n1i = c(200, 150, 60, 1000, 40),
           n2i = c(220, 150, 60, 900, 40), m = c(20, 25, 10, 50, 20),
           icc = c(0.2, 0.1, 0.05, 0.15, 0.3))
h07 <- with(cl, {
  N <- n1i + n2i
  room <- (N - 2) - 2 * (m - 1) * icc
  dT <- d * sqrt(room / (N - 2))
  num <- (N - 2) * (1 - icc)^2 + m * (N - 2 * m) * icc^2 + 2 * (N - 2 * m) * icc * (1 - icc)
  list(yi = dT, vi = N / (n1i * n2i) * (1 + (m - 1) * icc) + dT^2 * num / (2 * (N - 2) * room))
})
cluster <- list(hedges2007 = c(cl, list(source = "hand", yi = h07$yi, vi = h07$vi)),
                design_effect = list(source = "hand", vi_in = or_bcg$vi,
                                     m = rep(c(10, 30), length.out = nrow(bcg)), icc = 0.05,
                                     vi = or_bcg$vi * (1 + (rep(c(10, 30),
                                                                length.out = nrow(bcg)) - 1)
                                                       * 0.05)))

out <- list(made_by = "tests/reference/make_effects.R",
            r_version = R.version.string,
            metafor_version = as.character(packageVersion("metafor")),
            metadat_version = as.character(packageVersion("metadat")),
            cases = cases, conversions = conversions, cluster = cluster)
write_json(out, "tests/reference/effects.json", digits = NA, auto_unbox = TRUE, na = "null",
           pretty = FALSE)
cat("wrote", length(cases), "escalc cases\n")
