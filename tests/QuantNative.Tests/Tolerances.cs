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

    /// <summary>
    /// GPTQ's tracked loss against ½·Σ δ·H_damped·δᵀ of its final error, relative. The two are equal in exact
    /// arithmetic (each OBS step adds exactly (w − q)²/U_jj²); the weight updates run in float32 (ε = 6e-8) and the
    /// factor U is rounded to float32, so the two sides differ by a few float32 ulps of accumulated rounding: observed
    /// 4e-9 to 1e-7 on the 172-column test layer; 1e-5 leaves two orders of magnitude. A wrong update (sign, row of U,
    /// a missing block push) is off by whole percents.
    /// </summary>
    public const double GptqLossVsQuadraticFormRel = 1e-5;

    /// <summary>
    /// The same GPTQ run with blocks of 32 and with one block: the lazy block update reorders float32 sums, moving a
    /// group's min/max by a few float32 ulps; the scale is then rounded to fp16, so it either agrees exactly or moves
    /// by one fp16 step, at most 2⁻¹⁰ ≈ 9.8e-4 relative (observed: 9.2e-4 once in 11008 scales). 1.5e-3 admits one
    /// step; a missing error term in a group that straddles a block end moves scales by whole percents.
    /// </summary>
    public const double GptqBlockingScaleRel = 1.5e-3;

    /// <summary>
    /// The float64 Hessian sum from batches (BLAS dgemm, blocked and reordered) against a plain float64 loop over 300
    /// rows: float64 ε = 1.1e-16 times ~300 terms, with cancellation in off-diagonal entries, so 1e-11 relative.
    /// </summary>
    public const double HessianSummationOrderRel = 1e-11;
}
