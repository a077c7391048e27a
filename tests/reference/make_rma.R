# Reference numbers for whatworks.synthesis.meta_analysis from R's metafor (rma.uni).
# Run from the repository root:  Rscript tests/reference/make_rma.R
# Writes tests/reference/rma.json. Uses tight convergence controls so iterative estimates are the
# converged values (metafor's defaults stop ~1e-5 away), and a large tau2.max for Q-profile intervals.
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})

datasets <- list()
add <- function(name, dat, mods = character(0)) {
  datasets[[name]] <<- list(dat = dat, mods = mods)
}
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
add("bcg", bcg, c("ablat", "alloc"))
add("normand1999", escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                          n2i = n2i, data = dat.normand1999), c("source"))
add("hackshaw1998", dat.hackshaw1998, c("year", "design"))
add("raudenbush1985", dat.raudenbush1985, c("weeks", "tester"))
add("molloy2014", escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014), c("meanage", "quality"))
add("konstantopoulos2011", dat.konstantopoulos2011, c("year"))
add("berkey1998", dat.berkey1998, c("outcome"))
add("bangertdrowns2004", dat.bangertdrowns2004, c("length", "imag"))
add("yusuf1985", escalc("OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                        data = dat.yusuf1985[dat.yusuf1985$table == "6", ]), character(0))
add("collins1985a", escalc("OR", ai = b.xti, n1i = nti, ci = b.xci, n2i = nci,
                           data = dat.collins1985a), c("year"))
add("pritz1997", escalc("PLO", xi = xi, ni = ni, data = dat.pritz1997), character(0))
add("curtis1998", escalc("ROM", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                         n2i = n2i, data = dat.curtis1998), c("fungrp", "time"))
add("mcdaniel1994", escalc("ZCOR", ri = ri, ni = ni, data = dat.mcdaniel1994), c("struct", "type"))
add("lee2004", escalc("OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.lee2004), c("year"))
add("linde2005", escalc("RR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.linde2005),
    c("baseline", "duration"))

methods <- c("FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM")
tests <- c("z", "knha")
ctrl <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-15, stepadj = 0.5)

num <- function(x) if (is.null(x)) NA else unname(as.numeric(x))

fit_one <- function(d, method, test, mods) {
  dat <- d$dat
  keep <- !is.na(dat$yi) & !is.na(dat$vi)
  for (m in mods) keep <- keep & !is.na(dat[[m]])
  dat <- dat[keep, ]
  f <- if (length(mods)) as.formula(paste("~", paste(mods, collapse = " + "))) else ~ 1
  res <- tryCatch(rma(yi, vi, mods = f, data = dat, method = method, test = test, control = ctrl),
                  error = function(e) e)
  if (inherits(res, "error")) return(list(error = conditionMessage(res)))
  out <- list(
    k = res$k, p = res$p, names = rownames(res$beta),
    beta = num(res$beta), se = num(res$se), zval = num(res$zval), pval = num(res$pval),
    ci_lb = num(res$ci.lb), ci_ub = num(res$ci.ub),
    tau2 = num(res$tau2), se_tau2 = num(res$se.tau2), I2 = num(res$I2), H2 = num(res$H2),
    QE = num(res$QE), QEp = num(res$QEp), QM = num(res$QM), QMp = num(res$QMp),
    QMdf = num(res$QMdf), R2 = num(res$R2), dfs = num(res$dfs),
    ll = num(logLik(res)), fitstats = num(fitstats(res)))
  if (length(mods) == 0) {
    pr <- predict(res)
    out$pi_lb <- num(pr$pi.lb); out$pi_ub <- num(pr$pi.ub)
  }
  if (!(method %in% c("FE"))) {
    ci <- tryCatch(confint(res, control = list(tau2.max = 1e4, tol = 1e-15, maxiter = 100000)),
                   error = function(e) NULL)
    if (!is.null(ci)) {
      r <- ci$random
      out$tau2_ci <- num(r["tau^2", c("ci.lb", "ci.ub")])
      out$I2_ci <- num(r["I^2(%)", c("ci.lb", "ci.ub")])
      out$H2_ci <- num(r["H^2", c("ci.lb", "ci.ub")])
    }
  }
  out
}

data_out <- list()
fits <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  cols <- list(yi = num(d$dat$yi), vi = num(d$dat$vi))
  for (m in d$mods) cols[[m]] <- if (is.numeric(d$dat[[m]])) num(d$dat[[m]]) else as.character(d$dat[[m]])
  data_out[[name]] <- cols
  for (method in methods) for (test in tests) for (withmods in c(FALSE, TRUE)) {
    if (withmods && length(d$mods) == 0) next
    mods <- if (withmods) d$mods else character(0)
    r <- fit_one(d, method, test, mods)
    r$dataset <- name; r$method <- method; r$test <- test; r$mods <- mods
    fits[[length(fits) + 1]] <- r
  }
}
write_json(list(metafor_version = as.character(packageVersion("metafor")), data = data_out,
                fits = fits),
           "tests/reference/rma.json", digits = NA, auto_unbox = TRUE, null = "null", na = "null")
cat("wrote", length(fits), "fits\n")
