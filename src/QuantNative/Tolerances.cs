namespace QuantNative;

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
    /// BF16 weights against the float64 reference of the fp32 weights. BF16 keeps 8 significant bits, so every weight
    /// moves by up to 2⁻⁹ ≈ 0.2% of itself, and the logits of stories260K reach |23.6|. Measured on stories260K:
    /// max 0.20, mean 0.021. The bound is 2.5× the measured maximum, leaving room for other BLAS kernels; a layout
    /// error (RoPE permutation, a swapped tensor) moves logits by whole units. The mean is held tighter below.
    /// </summary>
    public const double Bf16LogitsAbs = 0.5;

    /// <summary>BF16: mean |logit error| (measured 0.021; 2.5× as above).</summary>
    public const double Bf16LogitsMeanAbs = 0.05;

    /// <summary>BF16: mean NLL of the 255 reference predictions relative to fp32 (measured −0.04%; 0.25% allowed).</summary>
    public const double Bf16MeanNllRelative = 0.0025;

    /// <summary>
    /// The learned methods' memory estimate over the buffers a run counts itself (stories260K, LearnedMemoryTests):
    /// the estimate also counts what the run's count leaves out (the AdamW moments, the attention tiles, every block's
    /// learned u, l), so it is above, measured 1.047–1.070× (omniquant W3/W2, lsi, cqe+ with one look-ahead block). The
    /// lower bound (1×) fails when a buffer larger than that 5–7% slack is left out; 1.15 above fails when a large one
    /// (a copy of the block's linears, the calibration activations, the look-ahead targets) is counted twice.
    /// </summary>
    public const double LearnedMemoryOverCount = 1.15;

    /// <summary>
    /// The same fp32 model along two summation orders (one token at a time, M=1 GEMMs and a growing softmax, against
    /// one whole-sequence GEMM with tiled causal attention). stories260K's logits reach |23.6|, where one float32
    /// ulp is 1.9e-6; every GEMM and softmax rounds differently on the two paths through 5 blocks. Measured: max
    /// 2.1e-5 (≈11 ulp), mean 2.5e-6. 5e-5 is ≈26 ulp at that magnitude; a wrong cache row or position is off by
    /// more than 1e-2.
    /// </summary>
    public const double SameModelReorderedAbs = 5e-5;

    /// <summary>
    /// fp32 forward of a random small model against a float64 straight-line implementation of the same maths:
    /// logits are O(1) after several blocks, float32 epsilon 1.2e-7 times sums of ≤ 100 terms, so 1e-5.
    /// </summary>
    public const double Fp32VsFloat64ForwardAbs = 1e-5;

    /// <summary>
    /// The synthetic family checkpoints (BF16 weights read exactly) in fp32 against their float64 references: max
    /// |error| over max |logit|, the bound issue 12 sets for an fp32 implementation (the references' README expects
    /// ~1e-5). A wrong RoPE scaling, window, bias or norm moves logits by whole percents.
    /// </summary>
    public const double SyntheticFamilyLogitsRel = 1e-5;

    /// <summary>The same models' mean NLL over 8 windows of 64 tokens, relative (README: ~1e-6 expected; the issue's
    /// 1e-5).</summary>
    public const double SyntheticFamilyNllRel = 1e-5;

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

    /// <summary>
    /// The float64 LWC backward against central finite differences of its straight-through definition, relative per
    /// component. The surrogate is linear in w between order changes of the group's extremes (central difference exact
    /// up to roundoff) and smooth in u, l (five-point stencil, h = 1e-2: truncation ~1e-8 of the derivative's scale,
    /// roundoff of the one group's loss ≈ 1e-14 absolute against gradients ≳ 1e-8); observed worst ≈ 5e-10, so 1e-6
    /// (the bound) holds with margin; a wrong term (a missing γ(1−γ), a wrong tie share, q − z vs round − r)
    /// is off by O(1).
    /// </summary>
    public const double LwcFiniteDifferenceRel = 1e-6;

    /// <summary>
    /// LWC backward on the GPU kernel (or the emulator) against the C# reference, float32: gs = Σ g·∂ŵ/∂s is summed
    /// sequentially in C# and as per-thread strided sums + a warp butterfly + a cross-warp sum in the kernel. A reordered
    /// float sum of n terms differs by at most ≈ n·ε·Σ|terms| (typically √n·ε·Σ|terms|), so the bound is relative to
    /// |expected| + the same gradient formula applied to Σ|g·∂ŵ/∂s| — not to |gs|, which at 8 bits (255 levels,
    /// rounding residuals of both signs) cancels to a small fraction of the terms (seed 841186550 hit 7e-5 of |du|).
    /// For ≤ 700 terms √n·ε ≈ 1.6e-6; 1e-5 leaves margin; a wrong term or a missing group moves values by O(1).
    /// </summary>
    public const double LwcGradientRel = 1e-5;

    /// <summary>
    /// Relative step of the central finite differences in double (h = 1e-6·max(1, |x|)): the truncation error is
    /// O(h²) ≈ 1e-12 relative, the rounding error ε·|L|/h ≈ 1e-16·|L|/1e-6 ≈ 1e-10·|L|, both far below the tolerance
    /// below for losses of O(1..100).
    /// </summary>
    public const double FiniteDifferenceStep = 1e-6;

    /// <summary>
    /// Hand-written backward against central finite differences in double, ‖g − g_fd‖₂/‖g_fd‖₂ over the checked
    /// elements (the bound). The finite differences themselves are good to ~1e-9 (see the step above); a
    /// wrong term in a formula is off by percents, and one element off by 1e-4 of the norm already fails
    /// (OpGradientTests.GradientCheckRejectsASmallError).
    /// </summary>
    public const double GradientVsFiniteDifferenceRel = 1e-6;

    /// <summary>
    /// The same float64 sums in another order (a GEMM accumulating into C against two GEMMs added afterwards), relative
    /// to the largest element: a few ulps of 1.1e-16 over sums of ≤ 17 terms, so 1e-13.
    /// </summary>
    public const double Float64ReorderedSumRel = 1e-13;

    /// <summary>
    /// SDE with the diagonal mask against LSI written literally (§7.5), in float64, relative to the largest element:
    /// W' = W + U·diag(E)·Vᵀ and U·diag(S + δ)·Vᵀ are the same matrix up to float64 roundoff of two summation orders
    /// (~1e-15), which no code crosses a rounding boundary for, and AdamW's m/√v carries the relative difference of
    /// the gradients through. 1e-9 leaves room for that and still fails on any formula difference (which is O(1)).
    /// </summary>
    public const double SdeVersusLsiRel = 1e-9;

    /// <summary>
    /// The training block's forward in double (dgemm, tiled attention, log-sum-exp) against the float64
    /// straight-line block of DoubleForward, ‖y − y_ref‖/‖y_ref‖: the same maths in other summation orders through
    /// ~10 stages, each a few ulps of 1.1e-16. Measured ≤ 7.3e-16 on the test shapes (T up to 300); 1e-13 leaves
    /// two orders of magnitude, and any slip in the maths (a missing γ, a wrong RoPE angle or mask) is ≥ 1e-3.
    /// </summary>
    public const double Float64BlockVsStraightLineRel = 1e-13;

    /// <summary>
    /// One op's float path against its double path on the same inputs, forward and backward, ‖f − d‖/‖d‖. Float
    /// epsilon is 6e-8; the GEMM and attention sums have up to 688 terms, whose rounding grows about as their
    /// square root. Measured ≤ 4.5e-7 (attention dK at T = 300, head dim 64; the elementwise ops ≤ 1.8e-7);
    /// 2e-6 is about 4× that. An accumulator in too low a precision or a wrong constant is off by 1e-4 or more.
    /// </summary>
    public const double Fp32VsFloat64OpRel = 2e-6;

    /// <summary>The longest sum <see cref="Fp32VsFloat64OpRel"/> was measured on.</summary>
    public const int Fp32VsFloat64OpTerms = 688;

    /// <summary>
    /// The device decode attention of a row split into chunks of keys (kernels/infer/attention_decode.cu, split-K)
    /// against the float64 path of the C# attention, ‖device − f64‖/‖f64‖, for rows longer than
    /// <see cref="Fp32VsFloat64OpTerms"/> keys: float32 sums of up to 20,001 terms, whose rounding grows about as the
    /// square root of their length, √(20001/688) ≈ 5.4 × <see cref="Fp32VsFloat64OpRel"/> ≈ 1.1e-5. Measured: 1.3e-6
    /// (20,001 keys, head dim 128) on the emulator; the C# float path itself is 3.6e-6 from float64 at 13,001 keys. A
    /// chunk dropped or combined without its exp(m_s − M) weight is off by 1e-2 or more.
    /// </summary>
    public const double LongAttentionRowVsFloat64Rel = 1e-5;

    /// <summary>
    /// The whole block's float forward and backward (y, dx, every dW and dγ) against the double path, ‖f − d‖/‖d‖:
    /// the op errors above compound through the ~20 ops of a forward and backward. Measured ≤ 2.5e-6 (dγ of the
    /// first norm at hidden 256, T = 300; ≤ 1e-6 on the small shapes); 1e-5 is 4× that.
    /// </summary>
    public const double Fp32VsFloat64BlockRel = 1e-5;

    /// <summary>
    /// AdamW in double against the textbook formulas in double, after 3 steps on |θ| ≤ 1: the implementation follows
    /// PyTorch's evaluation order (lerp for m, √v/√(1 − β2ᵗ) + ε, lr/(1 − β1ᵗ) as one factor), the test the
    /// documented one, so a few ulps of 1.1e-16 apart; measured ≤ 1.1e-16. A wrong bias correction or weight decay
    /// moves θ by ≥ 1e-6.
    /// </summary>
    public const double AdamWFloat64VsFormulaAbs = 1e-15;

    /// <summary>
    /// AdamW in float (PyTorch's precision for float32 parameters and state) against the formulas in double after 3
    /// steps on |θ| ≤ 1: each step rounds θ twice (decay, update), ≤ ½ ulp each, and the ulp below 1 is 6e-8, so at
    /// most ≈ 3.6e-7; measured 9.2e-8. 4e-7 admits that bound; a wrong bias correction or weight decay is ≥ 1e-6.
    /// </summary>
    public const double AdamWFloat32VsFormulaAbs = 4e-7;
    /// <summary>
    /// The low-bit GEMV kernel (fp16 x, exact Ŵ = (q − z)·s, float32 accumulation) against the C# reference (the same
    /// products summed by a float32 GEMM in another order), per output, relative to Σ_k |x_k·ŵ_k|. Each side is a
    /// float32 sum of at most K ≤ 512 rounded terms in the tests (every product x·ŵ rounds once, by ≤ ½ ulp), so each
    /// is within K·2⁻²⁴·Σ|x·ŵ| ≤ 3.1e-5·Σ of the exact value and the two within 6.1e-5·Σ; 1e-4 covers that worst
    /// case (observed on the emulator: ≤ 1.3e-7·Σ over the float32-output cases). A wrong code, zero or scale moves an
    /// output by at least one weight's share of Σ, ≳ 1/K ≈ 2e-3 (a W3 high bit read one place off fails 12 of 12 W3 cases).
    /// </summary>
    public const double LowBitGemvSumRel = 1e-4;

    /// <summary>
    /// The M = 1 W4 GEMV, which dequantizes to fp16 and sums in fp16 pairs (kernels/gemm/lowbit_gemv.cu, "W4, M = 1"),
    /// against the C# reference, relative to Σ_k |x_k·ŵ_k| (u = 2⁻¹¹, fp16's unit roundoff). Per term x·ŵ: ŵ is rounded
    /// to fp16 once (HMUL2 of the exact q − z by s: ≤ u·|ŵ|); each fp16 accumulator lane adds 8 terms by HFMA2 (each
    /// fused multiply-add rounds once: a chain of 8 is within γ₈ ≈ 8u of the sum of its |terms|); the four
    /// accumulators of an iteration meet in a tree of two HADD2 levels (2u); that sum joins the float32 total exactly.
    /// First order: (1 + 8 + 2)·u = 11u ≈ 5.37e-3 of Σ|x·ŵ| for the kernel, plus its float32 sums over iterations and
    /// lanes (≤ K/64 + 5 adds of 2⁻²⁴: ≤ 5e-6 for K ≤ 8192): 5.4e-3. The tests add the float32 reference's own
    /// K·2⁻²⁴ (see <see cref="LowBitGemvSumRel"/>). fp16 results below 2⁻¹⁴ are subnormal, rounded by ≤ 2⁻²⁵ absolute instead: ≤ 11 such roundings per
    /// term, 11·K·2⁻²⁵ absolute. It assumes no fp16 overflow: ŵ = s·(q − z) is the weight itself, so the fp16 partial
    /// sums are partial dot products of one output (below 65504 for trained models' layers; x alone up to 65504 is
    /// fine). A worst-case bound (observed on the emulator: ≤ 3.3e-4·Σ); a wrong code layout, scale, zero or group
    /// still moves outputs by far more, but a single wrong code of K ≥ 200 (≲ 1/K of Σ) can hide in it.
    /// </summary>
    public const double LowBitGemvHalf2SumRel = 5.4e-3;

    /// <summary>
    /// The M = 1 W2/W3 GEMV on the tensor cores (kernels/gemm/lowbit_gemv.cu, "W2/W3, M = 1"), against the C# reference,
    /// relative to Σ_k |x_k·ŵ_k| (u = 2⁻²⁴, float32's unit roundoff). Per 128-k step it sums x·(off + q) (off the
    /// magic's offset of each code's position: ≤ 64 for the 2-bit fields, ≤ 8 for W3's high bits, whose sum counts
    /// 4×) in float32 — every product exact, one rounding per mma (8 per step, 16 at W3) — then subtracts O = Σ x·off
    /// and z·S (S = Σ x; both summed pairwise, 7 levels) and scales by s. The offsets make the rounded sums larger than
    /// the result's: first order, per step, in units of u·s·Σ|x| over the step, W2: mma 8·(64 + 3) + O 7·64 + S 7·3 +
    /// the two subtractions 2·67 ≈ 1140; W3: 8·67 + 4·8·9 + 103 (the ×4 joining) + 7·96 + 7·7 + 2·103 ≈ 1850 — i.e.
    /// 6.8e-5 and 1.1e-4 of s·Σ|x|. Against Σ|x·ŵ| = s·Σ|x|·|q − z| this is no bound where q = z throughout (as for
    /// <see cref="CpuLowBitGemvRel"/>'s factored sums); for the tests' uniform codes and zeros E|q − z| = 1.25 (W2),
    /// 2.625 (W3), so 5.4e-5 and 4.2e-5 of Σ|x·ŵ|; plus the float32 total over K/128 steps and the reference's own
    /// float32 sum (the tests add K·2⁻²⁴). A GPU's mma may round its sum less tightly than once to nearest (the
    /// emulator sums in double and rounds once): twice the emulator's bound, 1.1e-4, plus 1e-5 for the total: 1.2e-4.
    /// Observed on the emulator: ≤ 5e-7·Σ (float32 outputs, K ≤ 4104). A wrong code layout, offset, x pairing, zero,
    /// scale or group moves outputs by far more (an offset table or x pairing off by one place fails every W3 case),
    /// but a single wrong code (≲ 1/K of Σ) can hide in it for K ≳ 2000.
    /// </summary>
    public const double LowBitGemvMmaSumRel = 1.2e-4;

    /// <summary>
    /// The CPU low-bit GEMV (y = Σ_g s·(Σ q·x − z·Σ x), codes 0..qmax in float) against the dequantized reference,
    /// relative to Σ_k |x_k·ŵ_k| as <see cref="LowBitGemvSumRel"/>. The factored form sums q·x and x separately, terms
    /// up to qmax·|x| and z·|x| where the reference's are |q − z|·|x|: for random codes and zeros E|q − z| ≈ qmax/3
    /// while the factored sums' terms reach qmax, so each of its float32 sums (K ≤ 200 terms here, each within
    /// K·2⁻²⁴ relative) costs up to ~3× the reference's error, and the two products by s once more: 3·6.1e-5 ≈ 2e-4.
    /// 3e-4 bounds it; a wrong code, zero, scale or group moves an output by ≳ 1/K ≈ 5e-3 of Σ.
    /// </summary>
    public const double CpuLowBitGemvRel = 3e-4;

    /// <summary>
    /// The int8-activation decode GEMV (<see cref="Inference.LowBit.LowBitInt8Row"/>) against its specification in
    /// double (the same rounded x, exact integer dots): only float32 arithmetic differs — each step's int32 sums
    /// converted and scaled by d_c·s_g (two roundings), accumulated per lane over ≤ K/128 steps, 16 lanes summed, the
    /// zero-point term Σ_g s_g·z_g·X̃_g (X̃ summed over a group's chunks) subtracted: ≲ 8 roundings deep on terms of
    /// magnitude ≤ Σ_c |d_c·s_g|·(|Σ q·xi| + |z·Σ xi|) for the shapes tested (K ≤ 300), 8·6e-8 ≈ 5e-7 of that sum;
    /// 2e-6 leaves room. A wrong code, lane, chunk scale or group moves y by ≳ 1/K of the sum.
    /// </summary>
    public const double CpuInt8GemvRoundingRel = 2e-6;

    /// <summary>
    /// How far x rounded to int8 (<see cref="Inference.LowBit.Int8Activations"/>) may lie from x, in units of the
    /// chunk's d/2: round-to-nearest of x·(1/d) is within 1/2 of x/d up to the two float32 roundings of 1/d and the
    /// product (|x/d| ≤ 127: 127·2·2⁻²⁴ ≈ 1.5e-5 absolute, ×2 in units of 1/2). The bound each output of the int8
    /// GEMV is held to against the float32 product is Σ_k |ŵ_k|·(d_c/2)·(1 + this).
    /// </summary>
    public const double Int8ActivationRoundingSlack = 4e-5;

    /// <summary>
    /// The same float32 products summed in two orders (a SIMD dot product against BLAS, or BLAS on a tile against BLAS
    /// on the whole), per output relative to Σ_k |x_k·w_k|: each sum of K ≤ 300 rounded terms is within K·2⁻²⁴ ≈ 1.8e-5
    /// of Σ, the two within 3.6e-5; 1e-4 covers it. A wrong row, tile offset or dtype conversion moves an output by a
    /// whole term, ≳ 1/K of Σ.
    /// </summary>
    public const double Float32ReorderedDotRel = 1e-4;

    /// <summary>
    /// Perplexity (mean NLL) of a GPTQ-format model run on its packed low-bit weights against the same checkpoint
    /// expanded to fp32: issue 13's bar. The weights are the same values ((q − z)·s is exact in fp32); only the GEMMs'
    /// tiling (and act-order's permuted column order) differ, float32 rounding averaged over 1016 predictions.
    /// </summary>
    public const double PackedVsExpandedNllRel = 1e-6;

    /// <summary>
    /// Logits of a low-bit model decoded one token at a time (the GEMV's factored group sums, <see cref="CpuLowBitGemvRel"/>
    /// per linear) against the whole sequence in one pass (dequantized tiles, BLAS), max error over max |logit|.
    /// stories260K's logits reach ~20 through 5 blocks of 7 linears; per-linear differences of ≲ 1e-5 relative grow to
    /// ~1e-5 of the logits' range; 1e-4 leaves room. A wrong cache row or position is off by more than 1e-2.
    /// </summary>
    public const double PackedDecodeVsPrefillLogitsRel = 1e-4;

    /// <summary>
    /// The same with int8 decode activations (<see cref="Inference.LowBit.DecodeActivations.Int8"/>): each linear's x
    /// rounded per chunk (32 values at W4), every product moved by up to |ŵ|·d/2 with d = max|x_c|/127 — the per-linear
    /// bound LowBitInt8GemvTests holds the kernel to. End to end the error is that rounding's, not arithmetic's: an error
    /// of RMS d/√12 per input is ≈ (max/RMS of x)/440 of a linear's output, ~1 % where max|x| ≈ 5·RMS, and it compounds
    /// over stories260K's 35 linears and the residual stream: measured 1.72e-2 of the logits' range (40 tokens, GPTQ W4
    /// g32 act-order). 5e-2 bounds that; the test's use is the int8 path's wiring (the float32 case checks the cache and
    /// positions to 1e-4): a chunk given its neighbour's scale measured 1.27.
    /// </summary>
    public const double PackedInt8DecodeVsPrefillLogitsRel = 5e-2;

    /// <summary>
    /// The fp16 output of the low-bit GEMV: the float32 sum is rounded once to nearest fp16, within ½ ulp, i.e.
    /// 2⁻¹¹ of |y| for normal values (plus 2⁻²⁵ absolute below the fp16 normal range), on top of
    /// <see cref="LowBitGemvSumRel"/>; a whole ulp (2⁻¹⁰) is allowed since the reference itself is compared after the
    /// float32 error, which can move the value across a rounding boundary.
    /// </summary>
    public const double LowBitGemvHalfOutputRel = 1.0 / 1024;

    /// <summary>
    /// A float32 SVD (LAPACK sgesdd, cuSOLVER gesvd/gesvdj) reconstructing W: ‖W − U·diag(S)·Vᵀ‖_F / ‖W‖_F. The
    /// algorithms are backward stable, so the error is a modest multiple of ε = 6e-8 growing with the dimension; for
    /// the ≤ 172-wide test matrices measured ≤ 1.04e-6 on the emulator and the CPU. 1e-5 leaves an order of magnitude;
    /// a wrong transpose, a swapped U/V or a singular vector paired with the wrong value gives O(1).
    /// </summary>
    public const double SvdReconstructionRel = 1e-5;

    /// <summary>
    /// max |QᵀQ − I| for the float32 singular vectors: each entry a dot product of ≤ 172 rounded terms, measured
    /// ≤ 1.13e-6; 1e-5 as above (a vector taken from the wrong column or not normalized is off by O(1)).
    /// </summary>
    public const double SvdOrthonormalityAbs = 1e-5;

    /// <summary>
    /// Singular values of the same float32 matrix from two SVD routines (device path against the CPU's sgesdd),
    /// max |ΔS| / S_max. Singular values are perfectly conditioned (Weyl: |ΔS| ≤ ‖ΔW‖₂), so each routine is within a
    /// backward error of ~n·ε·‖W‖ of the exact values; measured ≤ 7.4e-7. 1e-5 as above; a dropped or permuted value
    /// differs by O(1).
    /// </summary>
    public const double SvdSingularValuesRel = 1e-5;

    /// <summary>
    /// Mean NLL of the same GPTQ checkpoint evaluated with its block linears on the low-bit kernel (activations rounded
    /// to fp16, float32 accumulation) against the CPU's float32 evaluation on the same dequantized weights, in nats.
    /// Rounding every linear input to fp16 moves it by ≤ 2⁻¹¹ relative, which perturbs logits by ~1e-3 of their size
    /// and the mean NLL by far less (errors of both signs average out): measured 5.1e-5 nats on the test's 8 windows of
    /// 8 tokens of stories260K W4 g32 (2.2e-5 on 40). 1e-3 is 20× that; a wrong layer (a transposed or mis-grouped
    /// weight, a lost residual add) moves the NLL by ≥ 0.1.
    /// </summary>
    public const double DeviceEvalMeanNllAbs = 1e-3;

    /// A block op of the CUDA backend (kernels/train/ on the emulator, Sgemm through the runtime) against the CPU
    /// backend's float path, ‖cuda − cpu‖/‖cpu‖: the same maths in another summation order (BLAS GEMMs against
    /// sequential or lane-strided dot products, double against float row sums in RMSNorm), on sums of ≤ 300 terms, so a
    /// few float ulps (6e-8) each. Measured ≤ 3.2e-7 (attention dK at T = 17; RMSNorm dx 2.3e-7; GEMMs 0: the same
    /// OpenBLAS calls); 2e-6 is about 6× that. A wrong index, mask or term is off by O(1); an unwritten element
    /// (NaN poison) fails outright.
    /// </summary>
    public const double CudaVsCpuOpRel = 2e-6;

    /// <summary>
    /// The MSE loss of the CUDA backend (double partial sums per thread, a tree per block, blocks in order) against
    /// the CPU's sequential double sum, relative: double rounding over ≤ 70000 terms, ≲ 1e-12 (measured 2.4e-14); 1e-10 is far below any
    /// float-level slip (a term summed in float is off by ≳ 1e-8).
    /// </summary>
    public const double MseLossReorderedRel = 1e-10;

    /// <summary>
    /// The whole training block forward and backward (y, dx, every dW and dγ) on the CUDA backend (emulator) against
    /// the CPU backend in float: the op differences above through ~20 ops. Measured ≤ 1.7e-6 (dWk at T = 5, hidden
    /// 32, 4/2 heads); 1e-5 is about 6× that. A wrong op or a missing accumulation is off by percents.
    /// </summary>
    public const double CudaVsCpuBlockRel = 1e-5;

    /// <summary>
    /// OmniQuant's epoch objective and final block loss with the epochs on the emulated CUDA backend against the CPU
    /// loop, relative: the block's float differences (<see cref="CudaVsCpuBlockRel"/>) move the gradients, so AdamW's
    /// normalized steps and then u, l differ in late digits; a wrong gradient or a missed step changes the loss by
    /// percents. Measured ≤ 1.3e-7 (block 0 of stories260K, W3 g32, 2 windows, 1 epoch; the final losses, computed on
    /// the CPU from the committed codes, were equal); 1e-6 is about 8× that.
    /// </summary>
    public const double OmniQuantEpochCudaVsCpuRel = 1e-6;

    /// <summary>
    /// Fraction of committed codes that differ between the two: a code moves only where a slightly different u, l
    /// puts a weight across a rounding boundary. Measured 0 of 226560 (the run above); 1e-4 admits ~20 such moves. A
    /// wrong parameter update moves most codes of a group.
    /// </summary>
    public const double OmniQuantCodesCudaVsCpuFraction = 1e-4;

    /// <summary>
    /// OmniQuant's reported epoch objective, backend loop (MseLoss: y − t in double, squared, summed in double) against
    /// the CPU loop (y − t rounded to float first): each term's difference carries ≤ 2⁻²⁴ relative rounding, which
    /// mostly averages out over the 8192 terms of a window. Measured ≤ 2.9e-10 relative; 1e-8 leaves room, and any
    /// difference in the training itself (a gradient, a step) shows in the committed codes, compared exactly. Since
    /// the CPU path runs the backend epochs too (BackendBlockTraining on the CPU backend), only the losses outside the
    /// epochs (initial, final: OmniQuantizer.Mse) still round y − t to float; the epoch losses of two CPU runs are equal.
    /// </summary>
    public const double OmniQuantLossFloatVsDoubleDifferenceRel = 1e-8;

    /// <summary>
    /// The tensor-core low-bit GEMM (kernels/gemm/lowbit_mma.cu) against the same C# reference, per output, relative to
    /// Σ_k |x_k·ŵ_k|. Unlike the GEMV it feeds the tensor cores fp16 weights: (q − z)·s is exact in float32 but needs up
    /// to 4 + 11 significant bits, so rounding it to fp16 moves each weight by ≤ 2⁻¹¹·|ŵ| (½ ulp; the weights of the
    /// tests are fp16 normals: |q − z|·s ≥ 0.005), i.e. the output by ≤ 2⁻¹¹·Σ|x·ŵ| ≈ 4.9e-4·Σ, on top of the float32
    /// accumulation bound of <see cref="LowBitGemvSumRel"/> (the emulator's mma accumulates in double and rounds once
    /// per k16 step, a GPU's within float32: both under that bound; observed on the emulator: ≤ 2.8e-4·Σ, the fp16
    /// weight rounding dominating). A wrong code, zero or scale moves an output by
    /// ≳ 1/K ≥ 4e-3 of Σ at the tests' K ≤ 256, eight times this tolerance. The fp16 output adds
    /// <see cref="LowBitGemvHalfOutputRel"/> as for the GEMV.
    /// </summary>
    public const double LowBitMmaSumRel = 1.0 / 2048 + LowBitGemvSumRel;

    /// <summary>
    /// Perplexity of a GGUF file in llama.cpp (node-llama-cpp) against `qn eval` of the same file, relative: the issue's
    /// bar. The two differ only in arithmetic: llama.cpp rounds the activations to the weights' dot-product type before
    /// each matrix product (Q8_0/Q8_1/Q8_K for quantized weights, F16 or BF16 for half weights, none for F32), computes
    /// RoPE angles by repeated float multiplication, and accumulates in its own order. Measured over 16 windows of 256:
    /// F32 and BF16 files 1.4e-5 to 7e-5; a layout error (the q/k permutation, a block's nibble order, a scale) moves
    /// the perplexity by whole percent.
    /// </summary>
    public const double GgufPerplexityRel = 1e-3;

    /// <summary>
    /// The same for K-quant files: llama.cpp multiplies K-quant weights with Q8_K activations, one 8-bit scale per 256
    /// inputs (block-32 types get Q8_0/Q8_1, one per 32), so its logits carry more activation rounding. Measured on
    /// stories260K zero-padded to rows of 256, 16 windows of 256: Q2_K 8.9e-4, Q3_K 1.5e-3, Q4_K 2.7e-3 (OmniQuant's
    /// Q4_K 9.4e-4), Q5_K 3.9e-4, Q6_K 9.2e-4; a wrong scale or nibble order moves this model's perplexity by tens of
    /// percent (Q2_K is 55 where F32 is 3.9).
    /// </summary>
    public const double GgufKQuantPerplexityRel = 5e-3;

    /// <summary>
    /// How close (in qn's logits, natural-log units) two tokens must be for a greedy step where llama.cpp and qn choose
    /// differently to count as a near-tie rather than an error. llama.cpp rounds the activations to 8 bits (Q8_0/Q8_K)
    /// before each quantized product, a relative error of up to 1/254 of each block's largest value, which moves
    /// stories260K's logits (|logit| ≲ 15) by a few hundredths. Measured: CQE+ W3 g32 as Q3_K (IQ4_NL fallbacks, Q8_0
    /// activations) left qn's choice at greedy step 16 of the TinyStories prompt for one 0.0146 below it. A layout error makes llama.cpp choose
    /// tokens whole units below qn's best.
    /// </summary>
    public const double GgufGreedyNearTieLogit = 0.1;

    /// <summary>
    /// A linear's input energy Σx² per column as a quantization run keeps it (GGUF K-quant importance) against the
    /// inference forward of the committed blocks on the same windows, ‖a − r‖/‖r‖ over the columns. GPTQ's is that
    /// forward (0 up to the summation order of the Hessian's dgemm); a learned run's comes from its training backend's
    /// float forward, which differs from the inference forward by float rounding that compounds through the blocks
    /// before it (X_q is propagated on the backend). Measured: GPTQ 0, OmniQuant W3 g32 on the CPU backend ≤ 1.9e-7
    /// (block 3's down_proj input); 1e-6 is 5× that. A linear given another stage's input, or a block's energy
    /// before its commit, is off by 10% or more.
    /// </summary>
    public const double InputEnergyRel = 1e-6;

    /// <summary>
    /// How close (in logits, natural-log units) the CPU engine's best and second-best tokens must be for a greedy step
    /// where the device decode path (DeviceInferenceSession) chooses differently to count as a near-tie rather than an
    /// error. The device differs from the CPU only by rounding: low-bit linears take fp16 activations (≤ 2⁻¹¹ relative
    /// per input), RMSNorm sums in float where the CPU sums in double, attention and the dense GEMMs sum in another
    /// order. When every logit differs by at most δ, the engines can disagree only where the CPU's top two are within
    /// 2δ. Measured δ (DeviceLogitDifferenceTests, stories260K W4 g32, 40-token prefill + 8 steps, logits ≲ 15 in
    /// size): 0.041 RTN, 0.028 GPTQ act-order, so disagreements are possible below ≈ 0.08; 0.1 covers that, and that
    /// test holds δ below half of it. A wrong op (a lost residual, a misplaced RoPE position) moves logits by whole
    /// units. Measured: no step differed on stories260K fp32, RTN and GPTQ W4 g32, or the four synthetic families in
    /// BF16 and RTN W4 g32 (40-token prompts, 24 tokens each), where the CPU's top two logits came as close as 0.0013.
    /// </summary>
    public const double DeviceGreedyNearTieLogit = 0.1;

    /// <summary>
    /// The device decode path's logits of a float32 model (DeviceInferenceSession.Forward) against the CPU session's,
    /// max |Δ| / max |cpu| over every row: the op differences (RMSNorm's float sums where the CPU sums in double,
    /// attention's and Sgemm's summation orders, SwiGLU's exp; <see cref="CudaVsCpuOpRel"/> each) through every block
    /// and the head. Measured 5.6e-7 on stories260K (5 blocks, 7 tokens); 1e-5 is about 18× that. A wrong op, a lost
    /// residual or a misplaced RoPE position is off by percents.
    /// </summary>
    public const double DeviceFp32LogitsRel = 1e-5;
}
