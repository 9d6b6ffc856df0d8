using QuantNative.Cuda;
using QuantNative.Formats;

namespace QuantNative.Inference.Device;

/// <summary>
/// The launches of the device decode path on raw device pointers, one method per kernel: the infer family's own
/// (<see cref="InferLaunch"/>) and the training family's row and elementwise kernels it shares (RMSNorm, RoPE, SwiGLU,
/// add, add-bias: kernels/train/, bit-exact or within float rounding of the C# ops the CPU engine runs), plus the dense
/// products through the runtime's cuBLAS Sgemm. Sizes are checked against the kernels' 32-bit indices; buffer extents
/// are the caller's (<see cref="DeviceInferenceSession"/> sizes its workspace from the config).
/// </summary>
public sealed class DeviceOps
{
    public DeviceOps(ICudaRuntime runtime)
    {
        Runtime = runtime;
        runtime.LoadModule(InferLaunch.Family);
        runtime.LoadModule(TrainLaunch.Family);
    }

    public ICudaRuntime Runtime { get; }

    /// <summary>x [tokens, hidden] = table[ids[t], :], the table float32 or as stored (BF16/F16, widened).</summary>
    public void EmbeddingLookup(DevicePtr x, DevicePtr table, DevicePtr ids, int tokens, int hidden,
        FloatDType dtype = FloatDType.F32)
    {
        string kernel = InferLaunch.EmbeddingLookupOf(dtype);
        var grid = InferLaunch.Elementwise(kernel, (long)tokens * hidden);
        using var args = new KernelArguments(5);
        args.Add(x).Add(table).Add(ids).Add(tokens).Add(hidden);
        Runtime.Launch(kernel, grid, new Dim3(InferLaunch.Threads), 0, args);
    }

    /// <summary>y [tokens, n] (+)= x [tokens, k] · Wᵀ for 16-bit W [n, k] (kernels/infer/dense16.cu), at most
    /// <see cref="InferLaunch.Dense16MaxTokens"/> tokens.</summary>
    public void Dense16Gemv(DevicePtr y, DevicePtr x, DevicePtr w, FloatDType dtype, int tokens, int n, int k,
        bool accumulate)
    {
        string kernel = InferLaunch.Dense16Gemv(dtype);
        if (tokens < 1 || tokens > InferLaunch.Dense16MaxTokens)
            throw new QuantNativeException($"{kernel}: {tokens} tokens; expected 1..{InferLaunch.Dense16MaxTokens}");
        TrainLaunch.Int32Elements(kernel, "n·k", (long)n * k);
        TrainLaunch.Int32Elements(kernel, "tokens·k", (long)tokens * k);
        int lanes = InferLaunch.Dense16LanesPerRow(k);
        int rowsPerBlock = InferLaunch.Dense16Threads / 32 * (32 / lanes);
        using var args = new KernelArguments(8);
        args.Add(y).Add(x).Add(w).Add(tokens).Add(n).Add(k).Add(accumulate ? 1 : 0).Add(lanes);
        Runtime.Launch(kernel, new Dim3((uint)((n + rowsPerBlock - 1) / rowsPerBlock)), new Dim3(InferLaunch.Dense16Threads),
            0, args);
    }

    /// <summary>dst [count] float32 = src [count] BF16/F16, exactly.</summary>
    public void Widen(DevicePtr dst, DevicePtr src, FloatDType dtype, long count) =>
        Pointwise(InferLaunch.Widen(dtype), count, dst, src);

    /// <summary>dst [count] fp16 = src [count] float32, round to nearest even.</summary>
    public void ToHalf(DevicePtr dst, DevicePtr src, long count) => Pointwise(InferLaunch.ToHalf, count, dst, src);

    /// <summary>Decode attention over the cache (kernels/infer/attention_decode.cu): one block per (row, head) while a
    /// row's keys fit its shared memory, else split into chunks of keys whose results <paramref name="partials"/>
    /// holds until they are combined (<see cref="InferLaunch.AttentionSplit"/>; <paramref name="chunk"/>: tests
    /// split short rows too).</summary>
    public void AttentionDecode(DevicePtr output, DevicePtr q, DevicePtr kCache, DevicePtr vCache, int tokens,
        int firstPosition, int heads, int kvHeads, int headDim, int window, DeviceBuffer partials, int? chunk = null)
    {
        if (heads % kvHeads != 0)
            throw new QuantNativeException($"{InferLaunch.AttentionDecode}: {heads} heads is not a multiple of {kvHeads} kv heads");
        TrainLaunch.Int32Elements(InferLaunch.AttentionDecode, "positions·heads·headDim",
            (long)(firstPosition + tokens) * heads * headDim);
        var (keys, splits) = InferLaunch.AttentionSplit(firstPosition + tokens, window, chunk);
        uint shared = (uint)(keys * sizeof(float));
        var rows = new Dim3((uint)tokens, (uint)heads);
        var threads = new Dim3(InferLaunch.AttentionThreads);
        if (splits == 1)
        {
            using var args = new KernelArguments(11);
            args.Add(output).Add(q).Add(kCache).Add(vCache).Add(tokens).Add(firstPosition).Add(heads).Add(kvHeads)
                .Add(headDim).Add(window).Add(Scale(headDim));
            Runtime.Launch(InferLaunch.AttentionDecode, rows, threads, shared, args);
            return;
        }
        long partialFloats = (long)tokens * heads * splits * (headDim + 2);
        TrainLaunch.Int32Elements(InferLaunch.AttentionDecodeSplit, "tokens·heads·splits·(headDim+2)", partialFloats);
        var partial = partials.Ensure(partialFloats * sizeof(float));
        using (var args = new KernelArguments(13))
        {
            args.Add(partial).Add(q).Add(kCache).Add(vCache).Add(tokens).Add(firstPosition).Add(heads).Add(kvHeads)
                .Add(headDim).Add(window).Add(Scale(headDim)).Add(keys).Add(splits);
            Runtime.Launch(InferLaunch.AttentionDecodeSplit, new Dim3((uint)tokens, (uint)heads, (uint)splits), threads,
                shared, args);
        }
        using (var args = new KernelArguments(6))
        {
            args.Add(output).Add(partial).Add(tokens).Add(heads).Add(headDim).Add(splits);
            Runtime.Launch(InferLaunch.AttentionCombine, rows, threads, 0, args);
        }
    }

    /// <summary>1/sqrt(headDim) rounded to float, as the C# attention forms it.</summary>
    public static float Scale(int headDim) => 1f / MathF.Sqrt(headDim);

    /// <summary>result [1] int32 = the first index of the largest of values [count].</summary>
    public void ArgMax(DevicePtr result, DevicePtr values, int count)
    {
        if (count < 1) throw new QuantNativeException($"{InferLaunch.ArgMax}: count {count}; expected at least 1");
        using var args = new KernelArguments(3);
        args.Add(result).Add(values).Add(count);
        Runtime.Launch(InferLaunch.ArgMax, new Dim3(1), new Dim3(InferLaunch.ArgMaxThreads), 0, args);
    }

    /// <summary>y [rows, dim] = γ ⊙ x / rms(x) per row (y may alias x); <paramref name="inverseRms"/> [rows] scratch.</summary>
    public void RmsNorm(DevicePtr y, DevicePtr inverseRms, DevicePtr x, DevicePtr gamma, int rows, int dim, double eps)
    {
        TrainLaunch.Int32Elements(TrainLaunch.RmsNormForward, "rows·dim", (long)rows * dim);
        using var args = new KernelArguments(7);
        args.Add(y).Add(inverseRms).Add(x).Add(gamma).Add(rows).Add(dim).Add((float)eps);
        Runtime.Launch(TrainLaunch.RmsNormForward, new Dim3((uint)rows), new Dim3(TrainLaunch.Threads), 0, args);
    }

    /// <summary>Rotates x [rows, heads·headDim] in place, row r at position firstPosition + r, with the session's
    /// tables [capacity, headDim/2] (the C# Rope's float tables: every scaling type).</summary>
    public void Rope(DevicePtr x, DevicePtr cos, DevicePtr sin, int firstPosition, int rows, int heads, int headDim)
    {
        TrainLaunch.Int32Elements(TrainLaunch.RopeForward, "rows·heads·headDim", (long)rows * heads * headDim);
        long offset = (long)firstPosition * (headDim / 2) * sizeof(float);
        using var args = new KernelArguments(6);
        args.Add(x).Add(cos.Offset(offset)).Add(sin.Offset(offset)).Add(rows).Add(heads).Add(headDim);
        Runtime.Launch(TrainLaunch.RopeForward, new Dim3((uint)rows), new Dim3(TrainLaunch.Threads), 0, args);
    }

    /// <summary>y [rows, cols] += bias [cols] on every row.</summary>
    public void AddBias(DevicePtr y, DevicePtr bias, int rows, int cols)
    {
        var grid = InferLaunch.Elementwise(TrainLaunch.AddBias, (long)rows * cols);
        using var args = new KernelArguments(4);
        args.Add(y).Add(bias).Add(rows).Add(cols);
        Runtime.Launch(TrainLaunch.AddBias, grid, new Dim3(TrainLaunch.Threads), 0, args);
    }

    /// <summary>dst [count] += src [count].</summary>
    public void Add(DevicePtr dst, DevicePtr src, long count) => Pointwise(TrainLaunch.Add, count, dst, src);

    /// <summary>h [count] = silu(a) ⊙ b (h may alias a).</summary>
    public void SwiGlu(DevicePtr h, DevicePtr a, DevicePtr b, long count) =>
        Pointwise(TrainLaunch.SwiGluForward, count, h, a, b);

    /// <summary>A grid-stride kernel over <paramref name="count"/> elements whose parameters are the pointers, then
    /// the count (the train family's and this family's elementwise kernels; both use 256 threads).</summary>
    private void Pointwise(string kernel, long count, params DevicePtr[] pointers)
    {
        var grid = InferLaunch.Elementwise(kernel, count);
        using var args = new KernelArguments(pointers.Length + 1);
        foreach (var p in pointers) args.Add(p);
        args.Add((int)count);
        Runtime.Launch(kernel, grid, new Dim3(InferLaunch.Threads), 0, args);
    }

    /// <summary>y [tokens, n] (+)= x [tokens, k] · Wᵀ with W [n, k] row-major float32, through cuBLAS Sgemm: in
    /// column-major terms yᵀ (n × tokens) = op(W) · xᵀ with W read as the k × n matrix Wᵀ, transposed.</summary>
    public void Linear(DevicePtr y, DevicePtr x, DevicePtr w, int tokens, int n, int k, bool accumulate) =>
        LinearRows(y, x, w, tokens, n, k, 0, n, accumulate);

    /// <summary>Output columns first..first+count−1 of y [tokens, n] (+)= x [tokens, k] · W_sliceᵀ, W_slice the float32
    /// rows [count, k] at <paramref name="wSlice"/> (cuBLAS Sgemm on a sub-block of y, leading dimension n).</summary>
    public void LinearRows(DevicePtr y, DevicePtr x, DevicePtr wSlice, int tokens, int n, int k, int first, int count,
        bool accumulate) =>
        Runtime.Sgemm(true, false, count, tokens, k, 1f, wSlice, k, x, k, accumulate ? 1f : 0f,
            y.Offset((long)first * sizeof(float)), n);
}
