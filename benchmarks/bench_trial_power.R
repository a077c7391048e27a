# The peer for bench_trial_power.py: the same three-level simulation in base R, one replication at a
# time (the way such simulations are usually written in R). Prints JSON: seconds and power.
# Usage: Rscript benchmarks/bench_trial_power.R 10000
args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args)) as.integer(args[1]) else 10000L
es <- 0.2; rho2 <- 0.06; rho3 <- 0.18; n <- 20; J <- 4; K <- 100; p <- 0.4
k1 <- round(p * K)
set.seed(2026)
t0 <- proc.time()
reject <- logical(reps)
school <- rep(seq_len(K), each = J * n)
class <- rep(seq_len(K * J), each = n)
for (r in seq_len(reps)) {
  treat <- numeric(K); treat[sample.int(K, k1)] <- 1
  y <- es * treat[school] + sqrt(rho3) * rnorm(K)[school] + sqrt(rho2) * rnorm(K * J)[class] +
    sqrt(1 - rho2 - rho3) * rnorm(K * J * n)
  m <- tapply(y, school, mean)
  reject[r] <- t.test(m[treat == 1], m[treat == 0], var.equal = TRUE)$p.value < 0.05
}
d <- proc.time() - t0
cat(sprintf('{"seconds": %.4f, "cpu": %.4f, "power": %.6f}\n', d[["elapsed"]],
            d[["user.self"]] + d[["sys.self"]], mean(reject)))
