"""Known-answer tests: simulate customers from known parameters, fit, and check the parameters and forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from aicrm.ml import clv
from aicrm.ml.clv import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel

N = 20_000
CAL, HOLD = 52.0, 52.0


def _days(weeks: np.ndarray) -> np.ndarray:
    """Times as whole days in weeks, as rfm_summary produces them from dated transactions."""
    return np.floor(weeks * 7.0) / 7.0


def _summary(x, t_x, T, x_hold, alive) -> pd.DataFrame:
    T = _days(T)
    t_x = np.minimum(_days(t_x), T)
    df = pd.DataFrame({"customer_id": np.arange(len(x)), "frequency": x, "recency": t_x, "T": T,
                       "holdout_frequency": x_hold, "holdout_duration": HOLD})
    df["alive_at_T"] = alive
    return df


def simulate_bg(n, r, alpha, a, b, *, seed, modified=False) -> pd.DataFrame:
    """BG/NBD (or MBG/NBD): Poisson purchases at rate λ; after each purchase (and, for MBG, at the
    first purchase too) the customer drops out with probability p. Entry times are spread over the
    first 26 weeks so that T varies across customers."""
    rng = np.random.default_rng(seed)
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    T = CAL - rng.uniform(0, 26, n)
    end = T + HOLD
    t, x, t_x, x_hold = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    death = np.full(n, np.inf)
    alive = np.ones(n, bool)
    if modified:
        gone = rng.random(n) < p
        death[gone], alive[gone] = 0.0, False
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / lam[idx])
        over = t[idx] > end[idx]
        alive[idx[over]] = False
        idx = idx[~over]
        cal = t[idx] <= T[idx]
        x[idx[cal]] += 1
        t_x[idx[cal]] = t[idx[cal]]
        x_hold[idx[~cal]] += 1
        dies = rng.random(len(idx)) < p[idx]
        death[idx[dies]] = t[idx[dies]]
        alive[idx[dies]] = False
    return _summary(x, t_x, T, x_hold, death > T)


def simulate_pareto(n, r, alpha, s, beta, *, seed) -> pd.DataFrame:
    """Pareto/NBD: Poisson purchases at rate λ while alive; exponential lifetime with rate μ."""
    rng = np.random.default_rng(seed)
    lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    life = rng.exponential(1 / mu)
    T = CAL - rng.uniform(0, 26, n)
    active_cal = np.minimum(life, T)
    x = rng.poisson(lam * active_cal)
    # given x events of a Poisson process on [0, L], the last one is the max of x uniforms
    t_x = np.where(x > 0, active_cal * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
    x_hold = rng.poisson(lam * np.clip(np.minimum(life, T + HOLD) - T, 0, None))
    return _summary(x.astype(float), t_x, T, x_hold.astype(float), life > T)


def _assert_close(fitted: dict, truth: dict, tol: dict) -> None:
    for k, v in truth.items():
        assert fitted[k] == pytest.approx(v, rel=tol[k]), f"{k}: fitted {fitted[k]:.4f}, true {v}"


def _assert_forecasts(model, data: pd.DataFrame, truth: dict) -> None:
    # with the true parameters the closed-form forecast must match the simulated holdout closely ...
    exact = type(model).from_params(truth).expected_purchases(HOLD, data)
    assert exact.sum() == pytest.approx(data["holdout_frequency"].sum(), rel=0.03)
    # ... and with the fitted ones, within estimation error
    predicted = model.expected_purchases(HOLD, data)
    actual = data["holdout_frequency"].to_numpy()
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.05)
    # the conditional expectation must also track customers individually, not just in total
    for lo, hi in [(0, 0), (1, 2), (3, 6), (7, np.inf)]:
        grp = (data["frequency"] >= lo) & (data["frequency"] <= hi)
        assert predicted[grp].mean() == pytest.approx(actual[grp].mean(), rel=0.15, abs=0.05)
    p_alive = model.probability_alive(data)
    assert p_alive.mean() == pytest.approx(data["alive_at_T"].mean(), abs=0.03)
    assert p_alive[data["alive_at_T"]].mean() > p_alive[~data["alive_at_T"]].mean() + 0.1


def test_fit_bgnbd__recovers_known_parameters_and_forecasts():
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    data = simulate_bg(N, **truth, seed=1)
    model = BetaGeoModel().fit(data)
    assert model.converged_
    _assert_close(model.params_, truth, {"r": 0.1, "alpha": 0.12, "a": 0.25, "b": 0.3})
    _assert_forecasts(model, data, truth)


def test_fit_mbgnbd__recovers_known_parameters_and_forecasts():
    truth = {"r": 0.6, "alpha": 5.0, "a": 0.9, "b": 3.0}
    data = simulate_bg(N, **truth, seed=2, modified=True)
    model = ModifiedBetaGeoModel().fit(data)
    assert model.converged_
    _assert_close(model.params_, truth, {"r": 0.1, "alpha": 0.12, "a": 0.25, "b": 0.3})
    _assert_forecasts(model, data, truth)
    # customers without repeat purchases may already be gone under MBG/NBD, never under BG/NBD
    zero = data[data["frequency"] == 0]
    assert model.probability_alive(zero).max() < 1.0
    assert np.allclose(BetaGeoModel().fit(data).probability_alive(zero), 1.0)


def test_fit_pareto_nbd__recovers_known_parameters_and_forecasts():
    truth = {"r": 0.55, "alpha": 10.0, "s": 0.6, "beta": 12.0}
    data = simulate_pareto(8_000, **truth, seed=3)
    model = ParetoNBDModel().fit(data)
    assert model.converged_
    _assert_close(model.params_, truth, {"r": 0.1, "alpha": 0.12, "s": 0.3, "beta": 0.4})
    _assert_forecasts(model, data, truth)


def test_fit_gamma_gamma__recovers_known_parameters():
    rng = np.random.default_rng(4)
    p, q, v = 6.0, 4.0, 15.0
    n = 10_000
    nu = rng.gamma(q, 1 / v, n)  # ν ~ Gamma(shape q, rate v)
    x = 1 + rng.poisson(2.0, n)
    # the mean of x purchases worth Gamma(p, rate ν) each is Gamma(px, rate xν)
    spend = rng.gamma(p * x, 1 / (x * nu))
    data = pd.DataFrame({"frequency": x, "monetary_value": spend})
    gg = GammaGammaModel().fit(data)
    assert gg.converged_ and gg.n_customers_ == n
    # tolerances are about 2.5 sampling standard deviations (20 seeds: sd 6% for p, 1.5% for q, 7.5% for v)
    _assert_close(gg.params_, {"p": p, "q": q, "v": v}, {"p": 0.15, "q": 0.04, "v": 0.2})
    # conditional expected spend lies between the customer's own mean and the population mean
    expected = gg.expected_average_spend(data)
    pop = gg.population_mean_spend()
    assert np.all((expected - spend) * (expected - pop) <= 1e-9)
    assert pop == pytest.approx(p * v / (q - 1), rel=0.02)


def _a0_by_quadrature(r, alpha, s, beta, x, t_x, T):
    """A0 = (r+s+x) ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ, the Pareto/NBD 'died before T' term, by quad."""
    m = min(alpha, beta)

    def f(u):  # after u = log(m + τ), which flattens the sharp peak at τ = t_x
        tau = np.exp(u) - m
        return np.exp(u - (r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau))

    lo, hi = np.log(m + t_x), np.log(m + T)
    scale = f(lo)  # work near 1, not near 1e-45
    value, _ = quad(lambda u: f(u) / scale, lo, hi, epsabs=0, epsrel=1e-13, limit=500)
    return (r + s + x) * value * scale


@pytest.mark.parametrize("params, x, t_x, T", [
    ((0.55, 10.58, 0.61, 11.67), 2, 30.43, 38.86),
    ((0.55, 10.58, 0.61, 11.67), 0, 0.0, 38.86),
    ((0.55, 0.05, 0.61, 40.0), 60, 5.0, 70.0),    # alpha << beta, heavy buyer: 2F1 would overflow untransformed
    ((2.0, 40.0, 3.0, 0.2), 25, 1.0, 78.0),       # beta << alpha
    ((0.3, 5.0, 0.8, 5.0 + 1e-9), 4, 10.0, 20.0),  # alpha == beta, z = 0
])
def test_pareto_nbd_likelihood_term__matches_numerical_integration(params, x, t_x, T):
    arr = lambda v: np.array([float(v)])  # noqa: E731
    log_a0 = clv._pareto_log_a0(np.array(params), arr(x), arr(t_x), arr(T))[0]
    assert log_a0 == pytest.approx(np.log(_a0_by_quadrature(*params, x, t_x, T)), rel=1e-10, abs=1e-10)


def test_models_refuse_impossible_summaries_and_unfitted_use():
    from aicrm.core.errors import ModelNotTrained, ValidationFailed

    with pytest.raises(ModelNotTrained):
        BetaGeoModel().probability_alive()
    bad = pd.DataFrame({"frequency": [1, 0], "recency": [5.0, 3.0], "T": [4.0, 10.0]})
    with pytest.raises(ValidationFailed, match="row 0"):
        BetaGeoModel().fit(bad)
    with pytest.raises(ValidationFailed, match="unknown CLV model"):
        clv.make_clv_model("lifetimes")
