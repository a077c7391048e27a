# Reference numbers for dependent effect sizes (whatworks.synthesis.multilevel / robust / robumeta).
#
# Run from the repository root:  Rscript tests/reference/make_dependent.R
# Writes tests/reference/dependent.json. Needs R >= 4.2 with metafor 3.8, metadat, clubSandwich,
# robumeta and jsonlite. The input columns and design matrices are written into the JSON, so the
# Python tests feed exactly the same numbers and never need R.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(clubSandwich)
  library(robumeta)
  library(jsonlite)
})

# Tight optimiser settings so the references are the converged REML/ML values.
ctrl <- list(optimizer = "nlminb", iter.max = 10000, eval.max = 10000, rel.tol = 1e-12)

data(hierdat, package = "robumeta")
data(corrdat, package = "robumeta")

datasets <- list(
  konstantopoulos2011 = dat.konstantopoulos2011[, c("district", "school", "year", "yi", "vi")],
  berkey1998 = dat.berkey1998[, c("trial", "outcome", "year", "yi", "vi")],
  assink2016 = dat.assink2016[, c("study", "esid", "year", "deltype", "yi", "vi")],
  hierdat = hierdat[, c("studyid", "esid", "effectsize", "var", "binge", "followup", "males")],
  corrdat = corrdat[, c("studyid", "esid", "effectsize", "var", "binge", "followup", "males",
                        "college")]
)
datasets <- lapply(datasets, function(d) { d <- as.data.frame(d); class(d) <- "data.frame"; d })

# Each multilevel case: data set, top level, inner level, moderators (formula or NULL).
ml_cases <- list(
  list(name = "konstantopoulos2011", data = "konstantopoulos2011", study = "district",
       es = "school", mods = NULL),
  list(name = "konstantopoulos2011_year", data = "konstantopoulos2011", study = "district",
       es = "school", mods = ~ year),
  list(name = "berkey1998", data = "berkey1998", study = "trial", es = "outcome", mods = NULL),
  list(name = "berkey1998_year", data = "berkey1998", study = "trial", es = "outcome",
       mods = ~ year),
  list(name = "assink2016", data = "assink2016", study = "study", es = "esid", mods = NULL),
  list(name = "assink2016_mods", data = "assink2016", study = "study", es = "esid",
       mods = ~ year + deltype),
  list(name = "hierdat_mods", data = "hierdat", study = "studyid", es = "esid",
       mods = ~ binge + followup),
  # inner labels repeated within a study: rows of one (study, deltype) pair share an effect
  list(name = "assink2016_shared", data = "assink2016", study = "study", es = "deltype",
       mods = ~ year)
)

yname <- function(d) if ("yi" %in% names(d)) "yi" else "effectsize"
vname <- function(d) if ("vi" %in% names(d)) "vi" else "var"

design <- function(d, mods) {
  if (is.null(mods)) return(matrix(1, nrow(d), 1, dimnames = list(NULL, "intrcpt")))
  X <- model.matrix(mods, data = d)
  colnames(X)[colnames(X) == "(Intercept)"] <- "intrcpt"
  X
}

fit_ml <- function(case, method, test) {
  d <- datasets[[case$data]]
  X <- design(d, case$mods)
  d$.study <- d[[case$study]]
  d$.es <- d[[case$es]]
  # nlminb with rel.tol = 1e-12 reports false convergence when a component sits on the boundary
  # (berkey1998: between-trial variance 0); then fall back to metafor's default controls.
  fit <- function(control) rma.mv(d[[yname(d)]], d[[vname(d)]], mods = X, intercept = FALSE,
                                  random = ~ 1 | .study / .es, data = d, method = method,
                                  test = test, control = control)
  f <- tryCatch(fit(ctrl), error = function(e) NULL)
  control <- "tight"
  if (is.null(f)) {
    f <- fit(list())
    control <- "default"
  }
  list(fit = f, X = X, d = d, control = control)
}

ml_out <- list()
robust_out <- list()
for (case in ml_cases) {
  for (method in c("REML", "ML")) {
    for (test in c("z", "t")) {
      r <- fit_ml(case, method, test)
      f <- r$fit
      key <- paste(case$name, method, test, sep = "_")
      ml_out[[key]] <- list(
        name = case$name, data = case$data, study = case$study, es = case$es,
        method = method, test = test, X = unname(r$X), X_names = colnames(r$X),
        sigma2 = as.numeric(f$sigma2), beta = as.numeric(f$beta), se = as.numeric(f$se),
        vb = unname(f$vb), stat = as.numeric(f$zval), pval = as.numeric(f$pval),
        ci_lb = as.numeric(f$ci.lb), ci_ub = as.numeric(f$ci.ub), dfs = f$ddf[1],
        QE = f$QE, QEp = f$QEp, QM = f$QM, QMdf = as.numeric(f$QMdf), QMp = f$QMp,
        btt = f$btt, loglik = as.numeric(logLik(f)), deviance = as.numeric(deviance(f)),
        AIC = AIC(f), BIC = BIC(f), AICc = fitstats(f)["AICc:", 1],
        n_clusters = f$s.nlevels[1], n_inner = f$s.nlevels[2], control = r$control
      )
      if (method == "REML" && test == "z") {
        # clubSandwich CR2 with the fitted marginal covariance as working model, clustered by the
        # top level; metafor's own robust() both ways.
        p <- ncol(r$X)
        ct <- coef_test(f, vcov = "CR2", cluster = r$d$.study, test = "Satterthwaite")
        ci <- conf_int(f, vcov = "CR2", cluster = r$d$.study, level = 0.95)
        vc <- vcovCR(f, cluster = r$d$.study, type = "CR2")
        rb1 <- robust(f, cluster = r$d$.study)
        rb2 <- robust(f, cluster = r$d$.study, clubSandwich = TRUE)
        out <- list(
          model = key, cluster = case$study,
          CR2 = list(beta = as.numeric(ct$beta), se = as.numeric(ct$SE),
                     tstat = as.numeric(ct$tstat), df = as.numeric(ct$df_Satt),
                     pval = as.numeric(ct$p_Satt), ci_lb = as.numeric(ci$CI_L),
                     ci_ub = as.numeric(ci$CI_U), vcov = unname(as.matrix(vc))),
          metafor_CR1 = list(se = as.numeric(rb1$se), tval = as.numeric(rb1$zval),
                             df = as.numeric(rb1$ddf), pval = as.numeric(rb1$pval),
                             ci_lb = as.numeric(rb1$ci.lb), ci_ub = as.numeric(rb1$ci.ub),
                             QM = rb1$QM, QMdf = as.numeric(rb1$QMdf), QMp = rb1$QMp,
                             vcov = unname(rb1$vb)),
          metafor_CR2 = list(se = as.numeric(rb2$se), tval = as.numeric(rb2$zval),
                             df = as.numeric(rb2$ddf), pval = as.numeric(rb2$pval),
                             ci_lb = as.numeric(rb2$ci.lb), ci_ub = as.numeric(rb2$ci.ub))
        )
        if (p > 1) {
          wt <- Wald_test(f, constraints = constrain_zero(2:p), vcov = "CR2",
                          cluster = r$d$.study, test = c("HTZ", "Naive-F"))
          h <- which(wt$test == "HTZ")
          n <- which(wt$test == "Naive-F")
          out$HTZ <- list(btt = 2:p, Fstat = wt$Fstat[h], delta = wt$delta[h],
                          df_num = wt$df_num[h], df_denom = wt$df_denom[h],
                          pval = wt$p_val[h])
          out$naive_F <- list(Fstat = wt$Fstat[n], df_num = wt$df_num[n],
                              df_denom = wt$df_denom[n], pval = wt$p_val[n])
          if (p > 2) {
            wt1 <- Wald_test(f, constraints = constrain_zero(2:3), vcov = "CR2",
                             cluster = r$d$.study, test = "HTZ")
            out$HTZ_2_3 <- list(btt = 2:3, Fstat = wt1$Fstat, delta = wt1$delta,
                                df_num = wt1$df_num, df_denom = wt1$df_denom,
                                pval = wt1$p_val)
          }
        }
        robust_out[[key]] <- out
      }
    }
  }
}

# CR2 on a univariate random-effects fit (rma.uni, REML) clustered by study.
uni_cases <- list(
  list(name = "assink2016_uni", data = "assink2016", cluster = "study", mods = NULL),
  list(name = "assink2016_uni_mods", data = "assink2016", cluster = "study",
       mods = ~ year + deltype),
  list(name = "corrdat_uni_mods", data = "corrdat", cluster = "studyid",
       mods = ~ males + college)
)
uni_out <- list()
for (case in uni_cases) {
  d <- datasets[[case$data]]
  X <- design(d, case$mods)
  f <- rma(d[[yname(d)]], d[[vname(d)]], mods = X, intercept = FALSE, method = "REML",
           control = list(threshold = 1e-12, tol = 1e-12, maxiter = 1000))
  cl <- d[[case$cluster]]
  p <- ncol(X)
  ct <- coef_test(f, vcov = "CR2", cluster = cl)
  ci <- conf_int(f, vcov = "CR2", cluster = cl, level = 0.95)
  rb1 <- robust(f, cluster = cl)
  out <- list(name = case$name, data = case$data, cluster = case$cluster, X = unname(X),
              X_names = colnames(X), tau2 = f$tau2,
              CR2 = list(beta = as.numeric(ct$beta), se = as.numeric(ct$SE),
                         tstat = as.numeric(ct$tstat), df = as.numeric(ct$df_Satt),
                         pval = as.numeric(ct$p_Satt), ci_lb = as.numeric(ci$CI_L),
                         ci_ub = as.numeric(ci$CI_U),
                         vcov = unname(as.matrix(vcovCR(f, cluster = cl, type = "CR2")))),
              metafor_CR1 = list(se = as.numeric(rb1$se), tval = as.numeric(rb1$zval),
                                 df = as.numeric(rb1$ddf), pval = as.numeric(rb1$pval),
                                 QM = rb1$QM, QMdf = as.numeric(rb1$QMdf), QMp = rb1$QMp))
  if (p > 1) {
    wt <- Wald_test(f, constraints = constrain_zero(2:p), vcov = "CR2", cluster = cl,
                    test = "HTZ")
    out$HTZ <- list(btt = 2:p, Fstat = wt$Fstat, delta = wt$delta, df_num = wt$df_num,
                    df_denom = wt$df_denom, pval = wt$p_val)
  }
  uni_out[[case$name]] <- out
}

# robumeta::robu, correlated (CORR) and hierarchical (HIER) weights, with and without the
# small-sample corrections.
robu_cases <- list(
  list(name = "corrdat_mods", data = "corrdat", study = "studyid",
       formula = effectsize ~ males + college + binge, model = "CORR", rho = 0.8),
  list(name = "corrdat_int", data = "corrdat", study = "studyid",
       formula = effectsize ~ 1, model = "CORR", rho = 0.8),
  list(name = "corrdat_rho05", data = "corrdat", study = "studyid",
       formula = effectsize ~ males + college, model = "CORR", rho = 0.5),
  list(name = "hierdat_mods", data = "hierdat", study = "studyid",
       formula = effectsize ~ binge + followup, model = "HIER", rho = 0.8),
  list(name = "hierdat_int", data = "hierdat", study = "studyid",
       formula = effectsize ~ 1, model = "HIER", rho = 0.8),
  list(name = "assink2016_corr", data = "assink2016", study = "study",
       formula = yi ~ year + deltype, model = "CORR", rho = 0.8),
  list(name = "assink2016_hier", data = "assink2016", study = "study",
       formula = yi ~ year + deltype, model = "HIER", rho = 0.8)
)
robu_out <- list()
for (case in robu_cases) {
  for (small in c(TRUE, FALSE)) {
    d <- datasets[[case$data]]
    d$.study <- d[[case$study]]
    d$.v <- d[[vname(d)]]
    X <- model.matrix(case$formula, data = d)
    colnames(X)[colnames(X) == "(Intercept)"] <- "intrcpt"
    r <- robu(case$formula, data = d, studynum = .study, var.eff.size = .v,
              modelweights = case$model, rho = case$rho, small = small)
    # robu sorts the data by study internally; X_sorted_order lets a test compare in that order.
    key <- paste(case$name, if (small) "small" else "large", sep = "_")
    tab <- r$reg_table
    robu_out[[key]] <- list(
      name = case$name, data = case$data, study = case$study, model = case$model,
      rho = case$rho, small = small, X = unname(X), X_names = colnames(X),
      beta = as.numeric(tab$b.r), se = as.numeric(tab$SE), tstat = as.numeric(tab$t),
      df = as.numeric(tab$dfs), pval = as.numeric(tab$prob), ci_lb = as.numeric(tab$CI.L),
      ci_ub = as.numeric(tab$CI.U), vcov = unname(r$VR.r),
      tau2 = as.numeric(r$mod_info$tau.sq),
      omega2 = if (is.null(r$mod_info$omega.sq)) NA else as.numeric(r$mod_info$omega.sq),
      I2 = if (is.null(r$mod_info$I.2)) NA else as.numeric(r$mod_info$I.2),
      n_studies = r$N, n_effects = r$M
    )
  }
}

out <- list(
  meta = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
              clubSandwich = as.character(packageVersion("clubSandwich")),
              robumeta = as.character(packageVersion("robumeta")),
              metadat = as.character(packageVersion("metadat")),
              script = "tests/reference/make_dependent.R"),
  data = datasets,
  multilevel = ml_out,
  robust = robust_out,
  robust_univariate = uni_out,
  robumeta = robu_out
)
write_json(out, "tests/reference/dependent.json", digits = NA, auto_unbox = TRUE,
           pretty = FALSE, na = "null", dataframe = "columns", matrix = "rowmajor")
cat("wrote tests/reference/dependent.json\n")
