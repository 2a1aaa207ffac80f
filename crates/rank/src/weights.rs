//! The weights of the peer score (no BEP: Swarmgate's own ranking, DESIGN.md "Peer ranking").
//!
//! Five factors, each in [0, 1], are summed with these weights. The defaults (30 / 25 / 20 / 15 /
//! 10 %) favour peers that are near and that came from a source we trust, then peers that have
//! served us well, then spare capacity, then how recently a peer was heard of. Weights from a
//! configuration file go through [`Weights::new`], which refuses what cannot rank anything
//! (a negative or NaN weight, or all zero); the score divides by the sum, so weights need not add
//! up to one.

/// A weight that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// A weight is negative: fix that factor's value in the configuration.
    #[error("the {factor} weight is negative ({value})")]
    Negative {
        /// The factor: "proximity", "reliability", "history", "load" or "freshness".
        factor: &'static str,
        /// The value given.
        value: f64,
    },
    /// A weight is NaN or infinite: fix that factor's value in the configuration.
    #[error("the {factor} weight is not a finite number ({value})")]
    NotFinite {
        /// The factor: "proximity", "reliability", "history", "load" or "freshness".
        factor: &'static str,
        /// The value given.
        value: f64,
    },
    /// Every weight is zero, so no peer would rank above another: give one factor a weight.
    #[error("all peer-ranking weights are zero")]
    AllZero,
}

/// How much each factor counts in [`crate::score`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Same host, same subnet, both on a private network ([`crate::proximity`]).
    pub proximity: f64,
    /// How far the peer's source is trusted ([`crate::Source::reliability`]).
    pub reliability: f64,
    /// Blocks received, hash failures and snubs so far.
    pub history: f64,
    /// Spare request capacity: `1 - outstanding / max_outstanding`.
    pub load: f64,
    /// How recently the peer was seen (half-life 10 minutes).
    pub freshness: f64,
}

impl Default for Weights {
    /// proximity 0.30, reliability 0.25, history 0.20, load 0.15, freshness 0.10.
    fn default() -> Self {
        Self {
            proximity: 0.30,
            reliability: 0.25,
            history: 0.20,
            load: 0.15,
            freshness: 0.10,
        }
    }
}

impl Weights {
    /// Checked weights: each finite and not negative, and not all zero.
    pub fn new(
        proximity: f64,
        reliability: f64,
        history: f64,
        load: f64,
        freshness: f64,
    ) -> Result<Self, WeightsError> {
        let weights = Self {
            proximity,
            reliability,
            history,
            load,
            freshness,
        };
        weights.validate()?;
        Ok(weights)
    }

    /// Checks weights built field by field: the rules of [`Weights::new`].
    pub fn validate(&self) -> Result<(), WeightsError> {
        for (factor, value) in self.named() {
            if !value.is_finite() {
                return Err(WeightsError::NotFinite { factor, value });
            }
            if value < 0.0 {
                return Err(WeightsError::Negative { factor, value });
            }
        }
        if self.sum() <= 0.0 {
            return Err(WeightsError::AllZero);
        }
        Ok(())
    }

    /// The same proportions scaled to add up to 1. Weights that fail [`Weights::validate`]
    /// (built field by field) normalise as the defaults do: a bad weight never yields a score
    /// outside [0, 1].
    pub fn normalized(&self) -> Self {
        if self.validate().is_err() {
            return Self::default().normalized();
        }
        let sum = self.sum();
        Self {
            proximity: self.proximity / sum,
            reliability: self.reliability / sum,
            history: self.history / sum,
            load: self.load / sum,
            freshness: self.freshness / sum,
        }
    }

    /// The sum of the five weights.
    pub fn sum(&self) -> f64 {
        self.proximity + self.reliability + self.history + self.load + self.freshness
    }

    fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("proximity", self.proximity),
            ("reliability", self.reliability),
            ("history", self.history),
            ("load", self.load),
            ("freshness", self.freshness),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_sum_to_one_and_are_valid() {
        let weights = Weights::default();
        assert!((weights.sum() - 1.0).abs() < 1e-12);
        assert_eq!(weights.validate(), Ok(()));
        let normalized = weights.normalized();
        assert!((normalized.proximity - 0.30).abs() < 1e-12);
        assert!((normalized.freshness - 0.10).abs() < 1e-12);
    }

    #[test]
    fn normalized_keeps_proportions() {
        let weights = Weights::new(3.0, 0.0, 1.0, 0.0, 0.0).unwrap();
        let n = weights.normalized();
        assert_eq!((n.proximity, n.history, n.load), (0.75, 0.25, 0.0));
        assert!((n.sum() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn invalid_weights_are_refused_naming_the_factor() {
        assert_eq!(
            Weights::new(0.3, -0.1, 0.2, 0.1, 0.1),
            Err(WeightsError::Negative {
                factor: "reliability",
                value: -0.1
            })
        );
        assert!(matches!(
            Weights::new(0.3, 0.2, f64::NAN, 0.1, 0.1),
            Err(WeightsError::NotFinite {
                factor: "history",
                ..
            })
        ));
        assert!(matches!(
            Weights::new(0.3, 0.2, 0.1, f64::INFINITY, 0.1),
            Err(WeightsError::NotFinite { factor: "load", .. })
        ));
        assert_eq!(
            Weights::new(0.0, 0.0, 0.0, 0.0, 0.0),
            Err(WeightsError::AllZero)
        );
        let bad = Weights {
            freshness: -1.0,
            ..Weights::default()
        };
        assert_eq!(bad.normalized(), Weights::default().normalized());
    }
}
