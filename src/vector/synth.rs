//! Seeded synthetic vectors for tests and benchmarks; not part of lore's API.
//!
//! Two kinds:
//! * [`uniform`]: points spread uniformly on the unit sphere. The hardest case for an
//!   approximate index (in high dimension every point is nearly equidistant from every other),
//!   and unlike any real embedding set.
//! * [`Clustered`]: a model of real embeddings. Global themes; per source a few topics near a
//!   theme; chunks in reading order that drift from one to the next (consecutive chunks share
//!   a section and overlap) and jump to another topic at section breaks; queries close to one
//!   passage. Neighbourhoods are continuous and a question's best passages stand out from the
//!   rest, as with sentence embedders. This is the set to judge latency and recall with;
//!   `uniform` gives the pessimistic bound.

/// A small, fast, seeded generator (SplitMix64): reproducible data without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f32 {
        let u1 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    pub fn gaussian_vec(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.gaussian()).collect()
    }
}

/// Scales `v` to unit length (a zero vector is left alone).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// `n` points uniform on the unit sphere of dimension `dim`.
pub fn uniform(rng: &mut Rng, n: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| {
            let mut v = rng.gaussian_vec(dim);
            normalize(&mut v);
            v
        })
        .collect()
}

/// A clustered embedding space: global themes, per-source topics near a theme, chunks drifting
/// around a topic.
#[derive(Debug, Clone)]
pub struct Clustered {
    dim: usize,
    themes: Vec<Vec<f32>>,
}

impl Clustered {
    pub fn new(rng: &mut Rng, dim: usize, themes: usize) -> Clustered {
        Clustered {
            dim,
            themes: uniform(rng, themes.max(1), dim),
        }
    }

    /// Around `topics` topic centres for one source.
    pub fn topics(&self, rng: &mut Rng, topics: usize) -> Vec<Vec<f32>> {
        (0..topics.max(1))
            .map(|_| {
                let theme = &self.themes[rng.below(self.themes.len())];
                self.around(rng, theme, 0.9)
            })
            .collect()
    }

    /// `n` chunk vectors of a source with the given topics, in reading order: each chunk
    /// drifts a little from the previous one (consecutive chunks share a section, and
    /// overlap), pulled back towards its section's topic, and every twentieth chunk or so
    /// starts a new section on another topic. This gives the continuous, locally dense
    /// structure of real embeddings rather than isolated balls of equidistant points.
    pub fn chunks(&self, rng: &mut Rng, topics: &[Vec<f32>], n: usize) -> Vec<Vec<f32>> {
        let mut out: Vec<Vec<f32>> = Vec::with_capacity(n);
        let mut topic = &topics[0];
        for i in 0..n {
            let next = if i == 0 || rng.below(20) == 0 {
                topic = &topics[rng.below(topics.len())];
                self.around(rng, topic, 0.8)
            } else {
                let prev = &out[i - 1];
                let pulled: Vec<f32> = prev
                    .iter()
                    .zip(topic.iter())
                    .map(|(p, t)| 0.85 * p + 0.15 * t)
                    .collect();
                self.around(rng, &pulled, 0.45)
            };
            out.push(next);
        }
        out
    }

    /// A question about the passage `anchor` (a chunk vector): close to it, and to its
    /// neighbours, but not a copy (cosine around 0.8).
    pub fn query(&self, rng: &mut Rng, anchor: &[f32]) -> Vec<f32> {
        self.around(rng, anchor, 0.75)
    }

    /// `centre` plus Gaussian noise whose norm is `spread` times the centre's, normalised.
    fn around(&self, rng: &mut Rng, centre: &[f32], spread: f32) -> Vec<f32> {
        let scale = spread / (self.dim as f32).sqrt();
        let mut v: Vec<f32> = centre.iter().map(|c| c + rng.gaussian() * scale).collect();
        normalize(&mut v);
        v
    }
}
