"""A synthetic population of bank customers with the source paper's features.

Observed features (sent in the decision request's ``context``): ``age`` (years),
``income`` (currency units per year), ``region``, ``risk_tolerance`` (1 = averse .. 5 =
seeking), ``risky_investment`` (1 when the customer has held risky products, else 0),
``phone_active_time`` (minutes per day in the app) and ``segment`` (a coarse label the
rule-based baseline keys on). Latent traits (never sent) drive the response to nudges:
susceptibility to each strategy family, loss aversion and urgency sensitivity; they are
partly predictable from the observed features, as the paper's feature importances suggest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["REGIONS", "Population", "generate_population"]

REGIONS = ("seoul", "gyeonggi", "busan", "incheon", "daegu", "other")
_REGION_SHARE = (0.35, 0.25, 0.12, 0.1, 0.08, 0.1)
AGE_BANDS = ("young", "mid", "senior")


@dataclass(frozen=True)
class Population:
    """Column arrays, one row per user (index ``i`` is user id ``u{i:07d}``).

    Observed, shape ``(n,)``: ``age`` int16, ``income`` float32, ``region`` int8 (index
    into :data:`REGIONS`), ``risk_tolerance`` int8 (1..5), ``risky_investment`` int8 (0/1),
    ``phone_active_time`` float32. Latent: ``susceptibility`` float32 ``(n, 4)`` per
    strategy family (``model.catalog.FAMILIES`` order), ``loss_aversion`` and
    ``urgency_sensitivity`` float32 ``(n,)``.
    """

    age: np.ndarray
    income: np.ndarray
    region: np.ndarray
    risk_tolerance: np.ndarray
    risky_investment: np.ndarray
    phone_active_time: np.ndarray
    susceptibility: np.ndarray
    loss_aversion: np.ndarray
    urgency_sensitivity: np.ndarray

    def __len__(self) -> int:
        return len(self.age)

    def standardized(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(age_z, income_z, risk_z, phone_z)``, each ``(n,)`` float32, roughly N(0, 1)."""
        age_z = (self.age.astype(np.float32) - 42.0) / 13.0
        income_z = (np.log(self.income) - np.log(38_000.0)) / 0.5
        risk_z = (self.risk_tolerance.astype(np.float32) - 3.0) / 1.1
        phone_z = (np.log(self.phone_active_time) - np.log(150.0)) / 0.5
        return age_z, income_z.astype(np.float32), risk_z, phone_z.astype(np.float32)

    def latent_means(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the observed features predict of the latent traits: ``(susceptibility (n, 4),
        loss_aversion (n,), urgency_sensitivity (n,))``; the rest is independent noise of
        sd :data:`LATENT_SD` (see :func:`generate_population`)."""
        age_z, income_z, risk_z, phone_z = (v[users] for v in self.standardized())
        risky = self.risky_investment[users].astype(np.float32)
        return (
            _susceptibility_mean(age_z, income_z, risk_z, phone_z, risky),
            (0.5 - 0.3 * risk_z).astype(np.float32),
            (0.15 * phone_z).astype(np.float32),
        )

    def segment(self, i: int) -> str:
        """``"<age band>-r<risk>-<x|n>"``: 3 x 5 x 2 = 30 segments."""
        band = AGE_BANDS[int(np.searchsorted((35, 55), self.age[i], side="right"))]
        return f"{band}-r{int(self.risk_tolerance[i])}-{'x' if self.risky_investment[i] else 'n'}"

    def segment_codes(self, users: np.ndarray) -> np.ndarray:
        """Integer code of each user's segment, shape ``(len(users),)``, in ``[0, 30)``."""
        band = np.searchsorted((35, 55), self.age[users], side="right")
        risk = self.risk_tolerance[users].astype(np.int64) - 1
        return (band * 5 + risk) * 2 + self.risky_investment[users]

    def segment_names(self, users: np.ndarray) -> np.ndarray:
        """Segment name of each user, ``(len(users),)`` str (vectorised ``segment``)."""
        names = np.array([segment_name(code) for code in range(30)])
        return names[self.segment_codes(users)]

    def context(self, i: int) -> dict[str, Any]:
        """The decision-request ``context`` of user ``i`` (observed features only)."""
        return {
            "age": int(self.age[i]),
            "income": round(float(self.income[i]), 2),
            "region": REGIONS[int(self.region[i])],
            "risk_tolerance": int(self.risk_tolerance[i]),
            "risky_investment": int(self.risky_investment[i]),
            "phone_active_time": round(float(self.phone_active_time[i]), 1),
            "segment": self.segment(i),
        }


def segment_name(code: int) -> str:
    """Inverse of :meth:`Population.segment_codes`."""
    band, rest = divmod(int(code), 10)
    risk, risky = divmod(rest, 2)
    return f"{AGE_BANDS[band]}-r{risk + 1}-{'x' if risky else 'n'}"


# sd of the part of each latent trait the observed features do not predict
LATENT_SD = {"susceptibility": 0.5, "loss_aversion": 0.4, "urgency_sensitivity": 0.4}


def _susceptibility_mean(
    age_z: np.ndarray, income_z: np.ndarray, risk_z: np.ndarray, phone_z: np.ndarray, risky: Any
) -> np.ndarray:
    """Susceptibility per strategy family predicted by the observed features, ``(n, 4)``."""
    return np.stack(
        [
            0.35 * age_z - 0.25 * risk_z,  # defaults and presets: older, risk-averse
            0.25 * income_z + 0.15 * risk_z,  # framing and information
            0.55 * phone_z - 0.30 * age_z,  # gamification and incentives: heavy app users
            0.40 * phone_z + 0.20 * (1 - risky),  # social proof
        ],
        axis=1,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate_population(n_users: int, rng: np.random.Generator) -> Population:
    """Draw ``n_users`` customers (O(n) memory: about 60 bytes per user)."""
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users}")
    n = n_users
    age = np.clip(rng.normal(42, 13, n), 19, 80).astype(np.int16)
    age_z = (age - 42.0) / 13.0
    income = np.exp(np.log(38_000) + 0.12 * age_z + rng.normal(0, 0.5, n)).astype(np.float32)
    income_z = (np.log(income) - np.log(38_000.0)) / 0.5
    risk = np.clip(np.rint(3 - 0.5 * age_z + 0.4 * income_z + rng.normal(0, 0.9, n)), 1, 5)
    risk_z = (risk - 3.0) / 1.1
    risky = rng.random(n) < _sigmoid(-1.2 + 1.0 * risk_z + 0.3 * income_z)
    phone = np.clip(np.exp(np.log(150) - 0.25 * age_z + rng.normal(0, 0.45, n)), 5, 900)
    phone_z = (np.log(phone) - np.log(150.0)) / 0.5
    noise = rng.normal(0, LATENT_SD["susceptibility"], (n, 4))
    susceptibility = _susceptibility_mean(age_z, income_z, risk_z, phone_z, risky)
    return Population(
        age=age,
        income=income,
        region=rng.choice(len(REGIONS), n, p=_REGION_SHARE).astype(np.int8),
        risk_tolerance=risk.astype(np.int8),
        risky_investment=risky.astype(np.int8),
        phone_active_time=phone.astype(np.float32),
        susceptibility=(susceptibility + noise).astype(np.float32),
        loss_aversion=(0.5 - 0.3 * risk_z + rng.normal(0, LATENT_SD["loss_aversion"], n)).astype(
            np.float32
        ),
        urgency_sensitivity=(
            0.15 * phone_z + rng.normal(0, LATENT_SD["urgency_sensitivity"], n)
        ).astype(np.float32),
    )


__all__ += ["AGE_BANDS", "LATENT_SD", "segment_name"]
