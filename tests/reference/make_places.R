# Reference numbers for whatworks.places. Run from the repository root:
#   Rscript tests/reference/make_places.R
# Writes tests/reference/places.json. Reads the shipped DfE and IMD files itself (an independent
# reader: base read.csv), so the Python loader is checked too. Closed forms computed here with base
# R distribution functions:
#   * funnel limits (Spiegelhalter 2005, Stat Med 24:1185-1202, appendix A.1.1: the p-quantile r_p,
#     alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)), limit (r_p - alpha) / n, floored at 0) and
#     normal limits; Winsorised (10%, quantile type 7) z-scores, phi, tau2 and adjusted limits
#     (Spiegelhalter 2005, section 6; Qual Saf Health Care 14:347-351);
#   * exact Poisson (poisson.test) and Byar confidence limits;
#   * glm(family = poisson), MASS::glm.nb, lme4::glmer (Poisson, region and authority intercepts).
suppressPackageStartupMessages({library(MASS); library(lme4); library(jsonlite)})
num <- function(x) unname(as.numeric(x))
root <- "src/whatworks/data/places"
symbols <- c("c", "x", "z", "k", "u", "..", ":", "")
as_num <- function(x) { x <- trimws(x); x[x %in% symbols] <- NA; as.numeric(x) }

tidy <- read.csv(file.path(root, "cla_number_and_rate_per_10k_children.csv"),
                 colClasses = "character", fileEncoding = "UTF-8-BOM", check.names = FALSE)
la <- tidy[tidy$geographic_level == "Local authority" &
           tidy$population_count == "Children looked after at 31 March each year" &
           tidy$time_period == "2023", ]
la$count <- as_num(la$number)
la$pop <- as_num(la$population_estimate)
la <- la[!is.na(la$count) & !is.na(la$pop), ]
la$region <- ifelse(la$region_name %in% c("Inner London", "Outer London"), "London", la$region_name)

# ---- funnel limits -------------------------------------------------------------------------
qlim <- function(theta, n, p, model) {
  if (model == "poisson") {
    m <- theta * n; r <- qpois(p, m); F <- function(k) ppois(k, m)
    nn <- n
  } else {
    nn <- round(n); r <- qbinom(p, nn, theta); F <- function(k) pbinom(k, nn, theta)
  }
  alpha <- (F(r) - p) / (F(r) - F(r - 1))
  pmax((r - alpha) / nn, 0)
}
nlim <- function(theta, n, p, model, phi = 1, tau2 = 0) {
  g <- if (model == "poisson") theta else theta * (1 - theta)
  pmax(theta + qnorm(p) * sqrt(phi * g / n + tau2), 0)
}
probs <- c(0.001, 0.025, 0.975, 0.999)
funnel_case <- function(name, count, n, model, target = NULL, winsor = 0.1) {
  theta <- if (is.null(target)) sum(count) / sum(n) else target / 10000
  g <- if (model == "poisson") theta else theta * (1 - theta)
  z <- (count / n - theta) / sqrt(g / n)
  q <- quantile(z, c(winsor, 1 - winsor), type = 7)
  zw <- pmin(pmax(z, q[1]), q[2])
  k <- length(z)
  phi <- mean(zw^2)
  df <- if (is.null(target)) k - 1 else k
  w <- n / g
  tau2 <- max(0, (k * phi - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))
  exact <- lapply(probs, function(p) qlim(theta, n, p, model))
  normal <- lapply(probs, function(p) nlim(theta, n, p, model))
  mult <- lapply(probs, function(p) nlim(theta, n, p, model, phi = max(phi, 1)))
  add <- lapply(probs, function(p) nlim(theta, n, p, model, tau2 = tau2))
  names(exact) <- names(normal) <- names(mult) <- names(add) <- as.character(probs)
  c(if (is.null(target)) list() else list(target = target),
    list(name = name, model = model, winsorize = winsor, count = count, population = n, theta = theta, z = num(z),
       phi = phi, statistic = k * phi, df = df, p_value = pchisq(k * phi, df, lower.tail = FALSE),
       tau2 = tau2, exact = exact, normal = normal, multiplicative = mult, additive = add))
}
small_n <- c(50, 80, 120, 200, 300, 450, 600, 90, 30, 250, 1000, 15)
small_x <- c(0, 1, 2, 3, 5, 8, 13, 4, 0, 7, 22, 1)
prop_n <- c(10, 20, 35, 50, 80, 120, 200, 300, 17, 64)
prop_x <- c(1, 6, 5, 12, 15, 30, 38, 70, 9, 8)
funnels <- list(
  funnel_case("la2023", la$count, la$pop, "poisson"),
  funnel_case("la2023", la$count, la$pop, "binomial"),
  funnel_case("small", small_x, small_n, "poisson"),
  funnel_case("small", small_x, small_n, "poisson", target = 150),
  funnel_case("small", small_x, small_n, "binomial", winsor = 0.2),
  funnel_case("proportions", prop_x, prop_n, "binomial"),
  funnel_case("proportions", prop_x, prop_n, "poisson", winsor = 0))

# ---- confidence intervals for rates ----------------------------------------------------------
ci_x <- c(0, 1, 2, 9, 50, 528, 83840)
ci_n <- c(359, 591, 1200, 591, 20000, 39319, 11886906)
exact_ci <- t(sapply(ci_x, function(x) poisson.test(x, conf.level = 0.95)$conf.int))
exact_ci90 <- t(sapply(ci_x, function(x) poisson.test(x, conf.level = 0.90)$conf.int))
byar <- function(x, level) {
  z <- qnorm(1 - (1 - level) / 2)
  lo <- ifelse(x > 0, x * (1 - 1 / (9 * x) - z / (3 * sqrt(x)))^3, 0)
  x1 <- x + 1
  cbind(lo, x1 * (1 - 1 / (9 * x1) + z / (3 * sqrt(x1)))^3)
}
cis <- list(count = ci_x, population = ci_n,
            exact95 = list(lower = num(exact_ci[, 1] / ci_n * 1e4), upper = num(exact_ci[, 2] / ci_n * 1e4)),
            exact90 = list(lower = num(exact_ci90[, 1] / ci_n * 1e4), upper = num(exact_ci90[, 2] / ci_n * 1e4)),
            byar95 = list(lower = num(byar(ci_x, 0.95)[, 1] / ci_n * 1e4),
                          upper = num(byar(ci_x, 0.95)[, 2] / ci_n * 1e4)))

# ---- models --------------------------------------------------------------------------------
imd <- read.csv(file.path(root, "imd2019_utla_summary.csv"), check.names = FALSE,
                fileEncoding = "UTF-8-BOM")
names(imd) <- trimws(names(imd))
imd_code <- la$new_la_code
imd_code[imd_code %in% c("E06000061", "E06000062")] <- "E10000021"  # Northamptonshire 2019
imd_code[imd_code == "E06000060"] <- "E10000002"                     # Buckinghamshire 2019
la$imd <- imd[["IMD - Average score"]][match(imd_code, imd[["Upper Tier Local Authority District code (2019)"]])]
stopifnot(!anyNA(la$imd))
d <- data.frame(code = la$new_la_code, count = la$count, pop = la$pop, imd10 = la$imd / 10,
                region = factor(la$region))
pois <- glm(count ~ imd10 + region, offset = log(pop), family = poisson, data = d,
            control = glm.control(epsilon = 1e-14, maxit = 100))
nb <- glm.nb(count ~ imd10 + region + offset(log(pop)), data = d,
             control = glm.control(epsilon = 1e-12, maxit = 100))
nb_dep <- glm.nb(count ~ imd10 + offset(log(pop)), data = d,
                 control = glm.control(epsilon = 1e-12, maxit = 100))
glm_out <- function(f) list(coef = num(coef(f)), se = num(sqrt(diag(vcov(f)))),
                            names = names(coef(f)), loglik = num(logLik(f)), aic = AIC(f),
                            deviance = deviance(f), df_resid = f$df.residual,
                            fitted = num(fitted(f)))
nb_out <- function(f) c(glm_out(f), list(theta = f$theta, theta_se = f$SE.theta,
                                         aic = AIC(f)))

gm <- glmer(count ~ imd10 + (1 | region) + (1 | code), offset = log(pop), family = poisson,
            data = d, nAGQ = 1,
            control = glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                                   optCtrl = list(rhoend = 1e-12, maxfun = 1e6)))
vc <- as.data.frame(VarCorr(gm))
re <- ranef(gm)$region
glmer_out <- list(
  fixef = num(fixef(gm)), se = num(sqrt(diag(as.matrix(vcov(gm))))),
  se_conditional = num(sqrt(diag(as.matrix(suppressWarnings(vcov(gm, use.hessian = FALSE)))))),
  sd_region = vc$sdcor[vc$grp == "region"], sd_authority = vc$sdcor[vc$grp == "code"],
  theta = num(getME(gm, "theta")), loglik = num(logLik(gm)), aic = AIC(gm),
  region_names = rownames(re), region_effects = num(re[, 1]),
  lme4_version = as.character(packageVersion("lme4")))

out <- list(
  r_version = R.version.string,
  la2023 = list(code = la$new_la_code, old_code = la$old_la_code, count = la$count,
                population = la$pop, region = la$region, imd_score = la$imd),
  funnels = funnels, cis = cis,
  poisson = glm_out(pois), negbin = nb_out(nb), negbin_deprivation = nb_out(nb_dep),
  glmer = glmer_out)
write_json(out, "tests/reference/places.json", digits = NA, auto_unbox = TRUE, pretty = FALSE)
