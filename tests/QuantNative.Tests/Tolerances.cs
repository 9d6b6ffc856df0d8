namespace QuantNative.Tests;

/// <summary>
/// Every numeric tolerance the tests use, in one place, each with its reason. Widening one to make a test pass is
/// a defect: find the cause instead.
/// </summary>
public static class Tolerances
{
    /// <summary>
    /// fp32 forward of stories260K against the float64 reference logits (|logit| ≲ 20): the README of the
    /// reference says a correct fp32 forward matches to about 1e-4 absolute.
    /// </summary>
    public const double ReferenceLogitsAbs = 1e-4;

    /// <summary>
    /// Mean NLL of the 255 reference predictions: an average of per-token errors of ~1e-5 (logits to 1e-4,
    /// softmax averaging them), so 2e-5 nats.
    /// </summary>
    public const double ReferenceMeanNllAbs = 2e-5;

    /// <summary>
    /// BF16 weights against the float64 fp32-weight reference. BF16 keeps 8 significant bits: each weight moves by up
    /// to 2⁻⁹ relative (≈0.2%); with ~64-term dot products of random-sign errors the logits (|logit| ≲ 20) move by
    /// about 0.2% · 20 / √64·√(layers·ops) ≈ 0.05 at worst observed scale. The test also checks the mean error is
    /// an order of magnitude smaller and that the predictions' NLL stays within 1% of the fp32 value.
    /// </summary>
    public const double Bf16LogitsAbs = 0.15;

    /// <summary>
    /// The same fp32 model, different summation orders (one token at a time with M=1 GEMMs against a whole-sequence
    /// GEMM, tiles of the causal attention): float rounding of sums of ≤ 512 terms of |x| ≲ 10, relative 1e-6 ≈ 1e-5
    /// absolute on logits.
    /// </summary>
    public const double SameModelReorderedAbs = 2e-5;

    /// <summary>
    /// fp32 forward of a random small model against a float64 straight-line implementation of the same maths:
    /// logits are O(1) after several blocks, float32 epsilon 1.2e-7 times sums of ≤ 100 terms, so 1e-5.
    /// </summary>
    public const double Fp32VsFloat64ForwardAbs = 1e-5;
}
