namespace QuantNative.Cpu;

/// <summary>
/// Row-parallel loops that stay sequential when the work is too small to pay for the thread hand-off
/// (stories260K's rows are 64 floats; a 7B block's are 4096).
/// </summary>
public static class ParallelRows
{
    /// <summary>Below this many scalar operations in total a loop runs on the calling thread.</summary>
    private const long MinParallelWork = 1 << 16;

    public static void For(int rows, long workPerRow, Action<int> body)
    {
        if (rows <= 1 || rows * workPerRow < MinParallelWork || Environment.ProcessorCount == 1)
        {
            for (int r = 0; r < rows; r++) body(r);
            return;
        }
        Parallel.For(0, rows, body);
    }
}
