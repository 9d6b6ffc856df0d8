using QuantNative.Model;

namespace QuantNative.Cpu;

/// <summary>
/// How many independent sequences (evaluation or calibration windows) to run at once. A small model's GEMMs are
/// too small to split across threads (stories260K: 512×64 by 64×64), so each core takes its own sequence with one
/// BLAS thread (<see cref="Gemm.UseBlasThreads"/>); a large model gives every thread to one sequence, where
/// OpenBLAS splits each GEMM. Measured on stories260K: 15.3 K tokens/s one window per core against 8.5 K with both
/// BLAS threads on one window.
/// </summary>
public static class SequenceParallelism
{
    /// <summary>Widest hidden size whose GEMMs are still too small to share between threads.</summary>
    private const int SmallModelHidden = 1024;

    public static int Workers(LlamaConfig c, int sequences) =>
        Math.Max(1, Math.Min(sequences, c.HiddenSize <= SmallModelHidden ? Environment.ProcessorCount : 1));
}
