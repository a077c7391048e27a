# Reference numbers for general random-effects structures and the CHE working model
# (whatworks.synthesis.multilevel with random = [...], whatworks.synthesis.covariance, robust).
#
# Run from the repository root:  Rscript tests/reference/make_random.R
# Writes tests/reference/random.json. Needs R >= 4.2 with metafor 3.8, metadat, clubSandwich and
# jsonlite. Data sets not used by the other fixtures: dat.lopez2019, dat.tannersmith2016,
# dat.mccurdy2020 (first 30 articles), dat.moura2021 (first 300 effects). The input columns and the
# design matrices are written into the JSON, so the Python tests never need R.
#
# Cases (metafor formula -> whatworks random=[...]):
#   single level   ~ 1 | study                         -> ["study"]
#   nested 2       ~ 1 | study/esid                    -> ["study/esid"]
#   nested 3       ~ 1 | article/experiment/id         -> ["article/experiment/id"]
#   crossed        list(~ 1 | study, ~ 1 | species, ~ 1 | esid) -> ["study", "species", "esid"]
#   CHE            V = impute_covariance_matrix(vi, study, r = rho); ~ 1 | study/esid; CR2 + HTZ

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(clubSandwich)
  library(jsonlite)
})

ctrl <- list(optimizer = "nlminb", iter.max = 10000, eval.max = 10000, rel.tol = 1e-12)

lopez <- dat.lopez2019
lopez <- data.frame(study = lopez$study, yi = lopez$diff, vi = lopez$se^2,
                    group = lopez$group, tailored = lopez$tailored)
lopez$esid <- ave(seq_len(nrow(lopez)), lopez$study, FUN = seq_along)

tanner <- dat.tannersmith2016
tanner <- data.frame(studyid = tanner$studyid, yi = tanner$yi, vi = tanner$vi,
                     propmale = tanner$propmale, aget1 = tanner$aget1)
tanner$esid <- ave(seq_len(nrow(tanner)), tanner$studyid, FUN = seq_along)

mcc <- dat.mccurdy2020
mcc <- mcc[mcc$article %in% unique(mcc$article)[1:30], ]
mcc <- data.frame(article = mcc$article, experiment = as.character(mcc$experiment),
                  id = mcc$id, yi = as.numeric(mcc$yi), vi = as.numeric(mcc$vi),
                  condition = as.character(mcc$condition))

moura <- dat.moura2021$dat[1:300, ]
moura <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = moura)
moura <- data.frame(study = moura$study.id, species = moura$species,
                    esid = moura$effect.size.id, yi = as.numeric(moura$yi),
                    vi = as.numeric(moura$vi), field = moura$field.collection)

datasets <- list(lopez2019 = lopez, tannersmith2016 = tanner, mccurdy2020 = mcc, moura2021 = moura)

# terms: a list of character vectors; each vector is one nested term (outer to inner).
cases <- list(
  list(name = "lopez_single", data = "lopez2019", terms = list("study"), mods = NULL),
  list(name = "lopez_single_mods", data = "lopez2019", terms = list("study"),
       mods = ~ group + tailored),
  list(name = "lopez_nested", data = "lopez2019", terms = list(c("study", "esid")), mods = NULL),
  list(name = "tanner_nested_mods", data = "tannersmith2016", terms = list(c("studyid", "esid")),
       mods = ~ propmale + aget1),
  list(name = "mccurdy_3level", data = "mccurdy2020",
       terms = list(c("article", "experiment", "id")), mods = NULL),
  list(name = "mccurdy_3level_mods", data = "mccurdy2020",
       terms = list(c("article", "experiment", "id")), mods = ~ condition),
  list(name = "moura_crossed", data = "moura2021", terms = list("study", "species", "esid"),
       mods = NULL),
  list(name = "moura_crossed_mods", data = "moura2021", terms = list("study", "species", "esid"),
       mods = ~ field),
  list(name = "tanner_che06", data = "tannersmith2016", terms = list(c("studyid", "esid")),
       mods = NULL, rho = 0.6),
  list(name = "tanner_che08_mods", data = "tannersmith2016", terms = list(c("studyid", "esid")),
       mods = ~ propmale + aget1, rho = 0.8),
  list(name = "tanner_che06_mods", data = "tannersmith2016", terms = list(c("studyid", "esid")),
       mods = ~ propmale + aget1, rho = 0.6),
  list(name = "lopez_che08", data = "lopez2019", terms = list(c("study", "esid")),
       mods = ~ group + tailored, rho = 0.8)
)

design <- function(d, mods) {
  if (is.null(mods)) return(matrix(1, nrow(d), 1, dimnames = list(NULL, "intrcpt")))
  X <- model.matrix(mods, data = d)
  colnames(X)[colnames(X) == "(Intercept)"] <- "intrcpt"
  X
}

formula_of <- function(term) as.formula(paste("~ 1 |", paste(term, collapse = "/")))

out <- list()
for (case in cases) {
  d <- datasets[[case$data]]
  X <- design(d, case$mods)
  random <- lapply(case$terms, formula_of)
  if (length(random) == 1) random <- random[[1]]
  che <- !is.null(case$rho)
  cluster <- d[[case$terms[[1]][1]]]
  if (che) {
    # metafor's vcalc and clubSandwich's impute_covariance_matrix agree (checked here); the
    # data are sorted by cluster, so the blocks sit on the diagonal in data order.
    esid <- d[[case$terms[[1]][2]]]
    V <- vcalc(d$vi, cluster = cluster, obs = esid, rho = case$rho)
    blocks <- impute_covariance_matrix(d$vi, cluster = cluster, r = case$rho)
    stopifnot(max(abs(as.matrix(bldiag(blocks)) - V)) < 1e-14)
  } else {
    V <- d$vi
  }
  for (method in c("REML", "ML")) {
    fit <- function(control) rma.mv(d$yi, V, mods = X, intercept = FALSE, random = random,
                                    data = d, method = method, control = control, sparse = TRUE)
    f <- tryCatch(fit(ctrl), error = function(e) NULL)
    control <- "tight"
    if (is.null(f)) {
      f <- fit(list())
      control <- "default"
    }
    key <- paste(case$name, method, sep = "_")
    res <- list(
      name = case$name, data = case$data, terms = case$terms, method = method,
      rho = if (che) case$rho else NULL, X = unname(X), X_names = colnames(X),
      sigma2 = as.numeric(f$sigma2), s_nlevels = as.numeric(f$s.nlevels),
      beta = as.numeric(f$beta), se = as.numeric(f$se), vb = unname(f$vb),
      stat = as.numeric(f$zval), pval = as.numeric(f$pval), ci_lb = as.numeric(f$ci.lb),
      ci_ub = as.numeric(f$ci.ub), QE = f$QE, QEp = f$QEp, QM = f$QM,
      QMdf = as.numeric(f$QMdf), QMp = f$QMp, loglik = as.numeric(logLik(f)),
      deviance = as.numeric(deviance(f)), AIC = AIC(f), BIC = BIC(f),
      AICc = fitstats(f)["AICc:", 1], control = control
    )
    if (che && method == "REML") {
      # the CHE covariance itself, block by block in order of first appearance of the cluster
      res$V_blocks <- lapply(unique(cluster), function(s) unname(V[cluster == s, cluster == s,
                                                                  drop = FALSE]))
    }
    nested <- length(case$terms) == 1
    if (nested) {
      p <- ncol(X)
      ct <- coef_test(f, vcov = "CR2", cluster = cluster, test = "Satterthwaite")
      ci <- conf_int(f, vcov = "CR2", cluster = cluster, level = 0.95)
      res$CR2 <- list(beta = as.numeric(ct$beta), se = as.numeric(ct$SE),
                      tstat = as.numeric(ct$tstat), df = as.numeric(ct$df_Satt),
                      pval = as.numeric(ct$p_Satt), ci_lb = as.numeric(ci$CI_L),
                      ci_ub = as.numeric(ci$CI_U))
      if (p > 1) {
        wt <- Wald_test(f, constraints = constrain_zero(2:p), vcov = "CR2", cluster = cluster,
                        test = "HTZ")
        res$HTZ <- list(Fstat = wt$Fstat, df_num = wt$df_num, df_denom = wt$df_denom,
                        pval = wt$p_val)
      }
    }
    out[[key]] <- res
  }
}

res <- list(
  meta = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
              clubSandwich = as.character(packageVersion("clubSandwich")),
              metadat = as.character(packageVersion("metadat")),
              script = "tests/reference/make_random.R"),
  data = datasets,
  cases = out
)
write_json(res, "tests/reference/random.json", digits = NA, auto_unbox = TRUE, pretty = FALSE,
           na = "null", dataframe = "columns", matrix = "rowmajor")
cat("wrote tests/reference/random.json\n")
