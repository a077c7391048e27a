# Reference numbers for whatworks.trials.cace. Run from the repository root:
#   Rscript tests/reference/make_trials_cace.R
# Writes tests/reference/trials_cace.json: a simulated cluster trial with non-compliance (30
# schools, one-sided and two-sided non-compliance), AER::ivreg 2SLS with classical and
# sandwich::vcovCL(type = "HC1") cluster-robust standard errors, and the Wald ratio.
suppressPackageStartupMessages({library(AER); library(sandwich); library(jsonlite)})
num <- function(x) unname(as.numeric(x))
set.seed(7)
J <- 30
size <- sample(15:35, J, replace = TRUE)
school <- rep(seq_len(J), size)
z <- rep(sample(rep(0:1, J / 2)), size)
n <- length(school)
x <- round(rnorm(n), 4)
complier <- rbinom(n, 1, plogis(0.8 + 0.5 * x))
always <- rbinom(n, 1, 0.05) * (1 - complier)
d <- ifelse(complier == 1, z, always)
y <- round(1 + 0.4 * d + 0.5 * x + rep(rnorm(J, 0, 0.3), size) + rnorm(n), 4)
dat <- data.frame(y, z, d, x, school)
m <- ivreg(y ~ d + x | z + x, data = dat)
m0 <- ivreg(y ~ d | z, data = dat)
wald <- (mean(y[z == 1]) - mean(y[z == 0])) / (mean(d[z == 1]) - mean(d[z == 0]))
out <- list(data = dat,
            covariate = list(estimate = num(coef(m)), se = num(sqrt(diag(vcov(m)))),
                             se_cluster = num(sqrt(diag(vcovCL(m, cluster = ~school, type = "HC1"))))),
            plain = list(estimate = num(coef(m0)), se = num(sqrt(diag(vcov(m0)))), wald = wald),
            versions = list(AER = as.character(packageVersion("AER")),
                            sandwich = as.character(packageVersion("sandwich"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, dataframe = "columns"),
           "tests/reference/trials_cace.json")
