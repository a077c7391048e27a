# Reference numbers for whatworks.trials.analyse. Run from the repository root:
#   Rscript tests/reference/make_trials.R
# Writes tests/reference/trials.json: simulated trial datasets and lme4 1.1 / MASS fits of the
# intention-to-treat models (random intercept per randomised cluster, fixed effects for blocks and
# baseline covariates):
#   * "continuous": pupils in 40 schools in 4 strata, lmer(REML) + the unconditional lmer
#     (variance components for the ICC and Hedges' g's total variance);
#   * "binary": children in 50 teams, glmer(binomial, Laplace) + the unconditional glmer;
#   * "swis": shaped like the social workers in schools trial, 268 schools within 21 local
#     authorities (blocks), two years per school, section 47 enquiries with pupils as exposure,
#     glmer(poisson) and glmer.nb with offset(log(pupils)).
suppressPackageStartupMessages({library(MASS); library(lme4); library(jsonlite)})
num <- function(x) unname(as.numeric(x))
set.seed(20201)

coefs <- function(m) {
  v <- vcov(m)
  list(terms = names(fixef(m)), estimate = num(fixef(m)), se = num(sqrt(diag(as.matrix(v)))))
}

# ---- continuous: 40 schools, unequal sizes, 4 strata, school-level treatment ---------------
J <- 40
size <- sample(8:25, J, replace = TRUE)
school <- rep(seq_len(J), size)
stratum <- rep(rep(c("a", "b", "c", "d"), each = 10), size)
treat_s <- unlist(lapply(split(seq_len(J), rep(1:4, each = 10)), function(ix) sample(rep(0:1, 5))))
treat <- rep(treat_s, size)
u <- rep(rnorm(J, 0, 0.45), size)
pretest <- round(rnorm(length(school)), 4)
y <- round(0.2 * treat + 0.6 * pretest + c(a = 0, b = 0.3, c = -0.2, d = 0.1)[stratum] + u +
           rnorm(length(school), 0, 0.8), 4)
cont <- data.frame(y, treat, school, stratum, pretest)
m1 <- lmer(y ~ treat + stratum + pretest + (1 | school), data = cont, REML = TRUE)
m0 <- lmer(y ~ 1 + (1 | school), data = cont, REML = TRUE)
vc0 <- as.data.frame(VarCorr(m0))
continuous <- list(
  data = cont,
  model = c(coefs(m1), list(sd_cluster = num(attr(VarCorr(m1)$school, "stddev")),
                            sigma = sigma(m1), reml = num(logLik(m1)))),
  null = list(var_cluster = vc0$vcov[1], var_residual = vc0$vcov[2],
              icc = vc0$vcov[1] / sum(vc0$vcov)))

# ---- binary: 50 teams, a covariate, logistic --------------------------------------------------
J <- 50
size <- sample(10:30, J, replace = TRUE)
team <- rep(seq_len(J), size)
treat <- rep(sample(rep(0:1, 25)), size)
age <- round(runif(length(team), 0, 17), 1)
eta <- -0.8 - 0.4 * treat + 0.05 * age + rep(rnorm(J, 0, 0.6), size)
y <- rbinom(length(team), 1, plogis(eta))
bin <- data.frame(y, treat, team, age)
g1 <- glmer(y ~ treat + age + (1 | team), data = bin, family = binomial)
g0 <- glmer(y ~ 1 + (1 | team), data = bin, family = binomial)
binary <- list(
  data = bin,
  model = c(coefs(g1), list(sd_cluster = num(attr(VarCorr(g1)$team, "stddev")),
                            loglik = num(logLik(g1)))),
  null = list(sd_cluster = num(attr(VarCorr(g0)$team, "stddev"))))

# ---- swis: 268 schools in 21 local authorities, counts with exposure ---------------------------
n_la <- 21
per_la <- rep(12:13, length.out = n_la)
per_la[1:16] <- 13; per_la[17:21] <- 12   # 16 * 13 + 5 * 12 = 268
la <- rep(sprintf("LA%02d", seq_len(n_la)), per_la)
S <- length(la)
treat_s <- unlist(lapply(per_la, function(n) sample(rep(0:1, length.out = n))))
pupils_s <- round(runif(S, 400, 1800))
fsm_s <- round(runif(S, 0.05, 0.5), 3)
base_rate <- round(exp(rnorm(S, log(25), 0.4)), 2)          # baseline s47 per 1000 pupils
la_eff <- rnorm(n_la, 0, 0.25)[match(la, sprintf("LA%02d", seq_len(n_la)))]
school_eff <- rnorm(S, 0, 0.2)
rows <- rep(seq_len(S), each = 2)
year <- rep(1:2, S)
pupils <- pupils_s[rows] + round(rnorm(2 * S, 0, 20))
mu <- pupils / 1000 * exp(log(20) + 0.055 * treat_s[rows] + 0.5 * log(base_rate[rows] / 25) +
                          1.2 * (fsm_s[rows] - 0.25) + la_eff[rows] + school_eff[rows])
s47 <- rnbinom(2 * S, mu = mu, size = 8)
swis <- data.frame(school = sprintf("S%03d", rows), la = la[rows], year = year,
                   treat = treat_s[rows], pupils = pupils, fsm = fsm_s[rows],
                   log_base = round(log(base_rate[rows] / 25), 6), s47 = s47)
ctrl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
p1 <- glmer(s47 ~ treat + la + log_base + fsm + (1 | school) + offset(log(pupils)), data = swis,
            family = poisson, control = ctrl)
nb1 <- glmer.nb(s47 ~ treat + la + log_base + fsm + (1 | school) + offset(log(pupils)),
                data = swis, control = ctrl)
swis_out <- list(
  data = swis,
  poisson = c(coefs(p1), list(sd_cluster = num(attr(VarCorr(p1)$school, "stddev")),
                              loglik = num(logLik(p1)))),
  negbin = c(coefs(nb1), list(sd_cluster = num(attr(VarCorr(nb1)$school, "stddev")),
                              theta = num(getME(nb1, "glmer.nb.theta")),
                              loglik = num(logLik(nb1)))))

out <- list(versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            MASS = as.character(packageVersion("MASS"))),
            continuous = continuous, binary = binary, swis = swis_out)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, dataframe = "columns"),
           "tests/reference/trials.json")
