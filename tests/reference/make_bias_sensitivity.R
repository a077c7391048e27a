# Reference numbers for whatworks.synthesis.bias, .sensitivity, .subgroups and .permutation from R's
# metafor 3.8 (regtest, ranktest, trimfill, fsn, leave1out, influence, cumul, baujat, permutest,
# and rma per subgroup). Run from the repository root:
#   Rscript tests/reference/make_bias_sensitivity.R
# Writes tests/reference/bias_sensitivity.json. Tight convergence controls so iterative estimates are
# the converged values; the input columns are written too so the Python tests feed the same numbers.
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})

ctrl <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-15, stepadj = 0.5)
num <- function(x) if (is.null(x)) NA else unname(as.numeric(x))
zval_of <- function(x) num(if (is.null(x$zval)) x$tval else x$zval)  # tval under Knapp-Hartung

datasets <- list(
  bcg = escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg),
  hackshaw1998 = dat.hackshaw1998,
  raudenbush1985 = dat.raudenbush1985,
  molloy2014 = escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014),
  bangertdrowns2004 = dat.bangertdrowns2004,
  normand1999 = escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                       n2i = n2i, data = dat.normand1999)
)
# a categorical variable per dataset for the subgroup analyses, a numeric one for meta-regression
groups <- c(bcg = "alloc", hackshaw1998 = "design", raudenbush1985 = "tester",
            molloy2014 = "design", bangertdrowns2004 = "grade")
moderators <- c(bcg = "ablat", hackshaw1998 = "year", raudenbush1985 = "weeks",
                molloy2014 = "meanage", bangertdrowns2004 = "length", normand1999 = NA)
datasets$bcg$order <- datasets$bcg$year
datasets$hackshaw1998$order <- datasets$hackshaw1998$year

data_out <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  cols <- list(yi = num(d$yi), vi = num(d$vi))
  if (!is.na(moderators[name])) cols$mod <- num(d[[moderators[name]]])
  if (name %in% names(groups)) cols$group <- as.character(d[[groups[name]]])
  if (!is.null(d$order)) cols$order <- num(d$order)
  data_out[[name]] <- cols
}

fit_of <- function(name, method, test, mods = FALSE) {
  d <- datasets[[name]]
  if (mods) {
    d$mod <- d[[moderators[name]]]
    d <- d[!is.na(d$mod), ]
    rma(yi, vi, mods = ~ mod, data = d, method = method, test = test, control = ctrl)
  } else {
    rma(yi, vi, data = d, method = method, test = test, control = ctrl)
  }
}

regtest_out <- function(r) list(zval = num(r$zval), pval = num(r$pval), dfs = num(r$dfs),
                                est = num(r$est), ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub),
                                beta = num(r$fit$beta), se = num(r$fit$se),
                                pvals = num(r$fit$pval), tau2 = num(r$fit$tau2))
trimfill_out <- function(t, res) {
  # metafor 3.8 reports the augmented-data fit with a z-test even for Knapp-Hartung models;
  # "refit" is that fit with the model's own test (what whatworks reports), tightly converged.
  rf <- rma(t$yi, t$vi, method = res$method, test = res$test, control = ctrl)
  list(k0 = num(t$k0), side = t$side, se_k0 = num(t$se.k0), p_k0 = num(t$p.k0),
       beta = num(t$beta), se = num(t$se), zval = num(t$zval), pval = num(t$pval),
       ci_lb = num(t$ci.lb), ci_ub = num(t$ci.ub), tau2 = num(t$tau2), yi = num(t$yi),
       vi = num(t$vi), fill = as.logical(t$fill),
       refit = list(beta = num(rf$beta), se = num(rf$se), zval = num(rf$zval),
                    pval = num(rf$pval), ci_lb = num(rf$ci.lb), ci_ub = num(rf$ci.ub),
                    tau2 = num(rf$tau2)))
}
tf <- function(res, ...) trimfill_out(trimfill(res, ..., control = ctrl), res)

bias <- list()
sens <- list()
for (name in names(datasets)) for (method in c("REML", "DL", "FE")) for (test in c("z", "knha")) {
  if (method == "FE" && test == "knha") next
  res <- fit_of(name, method, test)
  case <- list(dataset = name, method = method, test = test)
  b <- case
  b$egger_rma <- regtest_out(regtest(res))
  b$egger_lm <- regtest_out(regtest(res, model = "lm"))
  b$egger_rma_vi <- regtest_out(regtest(res, predictor = "vi"))
  b$peese_lm <- regtest_out(regtest(res, model = "lm", predictor = "vi"))
  rk <- ranktest(res)
  b$ranktest <- list(tau = num(rk$tau), pval = num(rk$pval))
  b$trimfill <- list(
    L0 = tf(res), R0 = tf(res, estimator = "R0"), L0_left = tf(res, side = "left"),
    L0_right = tf(res, side = "right"), R0_left = tf(res, estimator = "R0", side = "left"))
  if (!is.na(moderators[name])) {
    resm <- fit_of(name, method, test, mods = TRUE)
    b$egger_mods <- regtest_out(regtest(resm))
  }
  bias[[length(bias) + 1]] <- b

  s <- case
  l1 <- leave1out(res)
  s$leave1out <- list(estimate = num(l1$estimate), se = num(l1$se), zval = zval_of(l1),
                      pval = num(l1$pval), ci_lb = num(l1$ci.lb), ci_ub = num(l1$ci.ub),
                      Q = num(l1$Q), Qp = num(l1$Qp), tau2 = num(l1$tau2), I2 = num(l1$I2),
                      H2 = num(l1$H2))
  infl_out <- function(r) {
    inf <- influence(r)
    list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits),
         cook_d = num(inf$inf$cook.d), cov_r = num(inf$inf$cov.r),
         tau2_del = num(inf$inf$tau2.del), QE_del = num(inf$inf$QE.del),
         hat = num(inf$inf$hat), weight = num(inf$inf$weight),
         inf = as.logical(inf$inf$inf == "*"), dfbs = lapply(unclass(inf$dfbs)[rownames(r$beta)], num))
  }
  s$influence <- infl_out(res)
  if (!is.na(moderators[name])) s$influence_mods <- infl_out(fit_of(name, method, test, TRUE))
  cu <- if (is.null(datasets[[name]]$order)) cumul(res) else cumul(res, order = datasets[[name]]$order)
  s$cumul <- list(ordered = !is.null(datasets[[name]]$order), estimate = num(cu$estimate),
                  se = num(cu$se), zval = zval_of(cu), pval = num(cu$pval),
                  ci_lb = num(cu$ci.lb), ci_ub = num(cu$ci.ub), Q = num(cu$Q), Qp = num(cu$Qp),
                  tau2 = num(cu$tau2), I2 = num(cu$I2), H2 = num(cu$H2))
  pdf(NULL)
  bj <- baujat(res)
  s$baujat <- list(x = num(bj$x), y = num(bj$y))
  if (!is.na(moderators[name])) {
    bjm <- baujat(fit_of(name, method, test, TRUE))
    s$baujat_mods <- list(x = num(bjm$x), y = num(bjm$y))
  }
  dev.off()
  sens[[length(sens) + 1]] <- s
}

fsn_out <- function(f) list(fsnum = num(f$fsnum), pval = num(f$pval), meanes = num(f$meanes),
                            target = num(f$target))
fsns <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  fsns[[length(fsns) + 1]] <- list(
    dataset = name,
    rosenthal = fsn_out(fsn(yi, vi, data = d)),
    rosenthal_01 = fsn_out(fsn(yi, vi, data = d, alpha = 0.01)),
    orwin = fsn_out(fsn(yi, vi, data = d, type = "Orwin")),
    orwin_target = fsn_out(fsn(yi, vi, data = d, type = "Orwin", target = 0.05)),
    orwin_weighted = fsn_out(fsn(yi, vi, data = d, type = "Orwin", weighted = TRUE)),
    rosenberg = fsn_out(fsn(yi, vi, data = d, type = "Rosenberg")))
}

subgroups <- list()
for (name in names(groups)) for (method in c("REML", "DL")) for (test in c("z", "knha")) {
  d <- datasets[[name]]
  d$g <- as.character(d[[groups[name]]])
  d <- d[!is.na(d$g) & !is.na(d$yi), ]
  levs <- sort(unique(d$g))
  per <- lapply(levs, function(l) {
    sub <- d[d$g == l, ]
    if (test == "knha" && nrow(sub) < 2) return(NULL)
    r <- rma(yi, vi, data = sub, method = method, test = test, control = ctrl)
    list(level = l, k = r$k, estimate = num(r$beta), se = num(r$se), zval = num(r$zval),
         pval = num(r$pval), ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub), tau2 = num(r$tau2),
         I2 = num(r$I2), QE = num(r$QE), QEp = num(r$QEp))
  })
  if (any(sapply(per, is.null))) next
  est <- sapply(per, function(x) x$estimate)
  se <- sapply(per, function(x) x$se)
  qb <- rma(est, sei = se, mods = ~ factor(levs), method = "FE")
  pooled <- rma(yi, vi, mods = ~ factor(g), data = d, method = method, test = test, control = ctrl)
  subgroups[[length(subgroups) + 1]] <- list(
    dataset = name, method = method, test = test, groups = per,
    Qb = num(qb$QM), Qb_df = num(qb$QMdf[1]), Qb_p = num(qb$QMp),
    pooled_QM = num(pooled$QM), pooled_QMdf = num(pooled$QMdf), pooled_QMp = num(pooled$QMp),
    pooled_tau2 = num(pooled$tau2))
}

# exact permutation tests (every sign flip or every unique row permutation)
perm_data <- list(
  normand1999 = list(dat = datasets$normand1999, mods = NULL),
  bcg = list(dat = datasets$bcg, mods = NULL),
  bcg7_ablat = list(dat = datasets$bcg[1:7, ], mods = "ablat"),
  normand1999_orpington = list(dat = transform(datasets$normand1999,
                                               orpington = as.numeric(grepl("Orpington", source))),
                               mods = "orpington"))
perms <- list()
for (name in names(perm_data)) for (method in c("REML", "DL")) for (test in c("z", "knha")) {
  pd <- perm_data[[name]]
  f <- if (is.null(pd$mods)) ~ 1 else as.formula(paste("~", pd$mods))
  r <- rma(yi, vi, mods = f, data = pd$dat, method = method, test = test, control = ctrl)
  pt <- permutest(r, exact = TRUE, progbar = FALSE)
  perms[[length(perms) + 1]] <- list(
    dataset = name, method = method, test = test, yi = num(pd$dat$yi), vi = num(pd$dat$vi),
    mod = if (is.null(pd$mods)) NULL else num(pd$dat[[pd$mods]]),
    pval = num(pt$pval), QMp = num(pt$QMp), zval = num(r$zval), QM = num(r$QM),
    n_perm = length(pt$QM.perm))
}

# step-function selection models (selmodel). metafor's default optimizer (BFGS on numerical
# gradients) stops about 1e-5 short of the maximum on these flat likelihoods, so Nelder-Mead with a
# tight tolerance is used, restarted once from its own solution.
sel_cases <- list(
  list(dataset = "hackshaw1998", method = "ML", steps = 0.025, alternative = "greater"),
  list(dataset = "hackshaw1998", method = "REML", steps = c(0.025, 0.5), alternative = "greater"),
  list(dataset = "hackshaw1998", method = "FE", steps = 0.025, alternative = "greater"),
  list(dataset = "molloy2014", method = "ML", steps = 0.025, alternative = "greater"),
  list(dataset = "bangertdrowns2004", method = "REML", steps = 0.05, alternative = "two.sided"),
  list(dataset = "bcg", method = "ML", steps = 0.025, alternative = "less"),
  list(dataset = "bcg", method = "ML", steps = 0.025, alternative = "less", mods = TRUE))
nm <- list(optimizer = "Nelder-Mead", reltol = 1e-16, maxit = 100000)
sels <- list()
for (sc in sel_cases) {
  mods <- isTRUE(sc$mods)
  res <- fit_of(sc$dataset, sc$method, "z", mods = mods)
  sel <- function(ctrl) tryCatch(
    selmodel(res, type = "stepfun", steps = sc$steps, alternative = sc$alternative,
             control = ctrl), error = function(e) NULL)
  restart <- function(s, ctrl) {  # start again from a solution
    ctrl <- c(ctrl, list(beta.init = num(s$beta), delta.init = num(s$delta)))
    if (sc$method != "FE") ctrl$tau2.init <- max(num(s$tau2), 1e-8)
    sel(ctrl)
  }
  s <- sel(nm)
  optimizer <- "Nelder-Mead"
  if (is.null(s)) {  # Nelder-Mead's simplex can degenerate: start it from BFGS's solution
    s <- restart(sel(list(reltol = 1e-15, maxit = 10000)), nm)
  }
  s2 <- restart(s, nm)
  if (!is.null(s2) && logLik(s2) >= logLik(s)) s <- s2
  sels[[length(sels) + 1]] <- c(sc, list(
    beta = num(s$beta), se = num(s$se), zval = num(s$zval), pval = num(s$pval),
    ci_lb = num(s$ci.lb), ci_ub = num(s$ci.ub), tau2 = num(s$tau2), se_tau2 = num(s$se.tau2),
    delta = num(s$delta), se_delta = num(s$se.delta), zval_delta = num(s$zval.delta),
    pval_delta = num(s$pval.delta), ci_lb_delta = num(s$ci.lb.delta),
    ci_ub_delta = num(s$ci.ub.delta), LRT = num(s$LRT), LRTdf = num(s$LRTdf),
    LRTp = num(s$LRTp), ll = num(logLik(s))))
}

out <- list(metafor = as.character(packageVersion("metafor")), data = data_out, bias = bias,
            sensitivity = sens, fsn = fsns, subgroups = subgroups, permutest = perms,
            selmodel = sels)
write_json(out, "tests/reference/bias_sensitivity.json", digits = NA, auto_unbox = TRUE,
           na = "null", pretty = FALSE)
