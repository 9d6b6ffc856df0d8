using System.Text;
using System.Text.Json;
using QuantNative.Benchmarks;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace QuantNative.Cli;

/// <summary>The output of `qn bench gemm` and `qn bench svd`: a Spectre table (plain text, no colour, so it pipes and
/// tests cleanly) or one JSON object.</summary>
public static class BenchTables
{
    private static IAnsiConsole Console(TextWriter o)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(o),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 160; // a TextWriter has no terminal width; the widest table fits
        return console;
    }

    private static Table NewTable(params string[] columns)
    {
        var t = new Table().Border(TableBorder.Simple);
        foreach (var c in columns) t.AddColumn(new TableColumn(Markup.Escape(c)).RightAligned());
        return t;
    }

    private static IRenderable Cell(string s) => new Text(s);

    public static void Gemm(TextWriter o, GemmBenchmark.Report r)
    {
        var console = Console(o);
        if (r.Timed)
        {
            var t = NewTable("shape N×K", "bits", "M", "µs", "TFLOP/s", "GB/s", "cuBLAS fp16 µs", "× cuBLAS", "of BW bound", "copies");
            foreach (var row in r.Rows)
            {
                var tm = row.Time!;
                t.AddRow(Cell($"{row.Shape.N}×{row.Shape.K}"), Cell($"W{row.Bits}"), Cell($"{row.M}"),
                    Cell(F(tm.LowBitUs, "F2")), Cell(F(tm.Tflops, "F2")),
                    Cell(F(tm.GBps, "F0")), Cell($"{tm.CublasUs:F2}"), Cell(F(tm.SpeedupOverCublas, "F2")),
                    Cell(tm.OfBandwidthBound is double b ? $"{b:P0}" : "-"), Cell($"{tm.Copies}"));
            }
            console.Write(t);
            o.WriteLine($"copy bandwidth {r.CopyGBps:F0} GB/s (device-to-device, 2× L2); L2 {r.L2Bytes / 1048576.0:F0} MiB " +
                        $"({r.L2Source}); weights rotated through copies totalling > 2× L2; median µs per launch, CUDA events");
            o.WriteLine("× cuBLAS: cuBLAS fp16 time / low-bit time; of BW bound: minimum traffic at copy bandwidth / time");
        }
        else
        {
            var t = NewTable("shape N×K", "bits", "M", "low-bit vs CPU", "low-bit vs GemmEx", "GemmEx vs CPU", "result");
            foreach (var row in r.Rows)
            {
                var c = row.Check!;
                t.AddRow(Cell($"{row.Shape.N}×{row.Shape.K}"), Cell($"W{row.Bits}"), Cell($"{row.M}"),
                    Cell(F(c.LowBitVsCpu, "E1")), Cell(F(c.LowBitVsCublas, "E1")),
                    Cell($"{c.CublasVsCpu:E1}"), Cell(c.Passed ? "ok" : "DIFFERS"));
            }
            console.Write(t);
            o.WriteLine("errors: max |Δy| / Σ_k |x·ŵ| per output; no timings on the emulator");
        }
    }

    public static void Svd(TextWriter o, SvdBenchmark.Report r)
    {
        var console = Console(o);
        var t = r.Timed
            ? NewTable("shape R×C", "batch", "method", "ms", "ms / matrix", "reconstruction", "UᵀU, VᵀV − I", "result")
            : NewTable("shape R×C", "batch", "method", "reconstruction", "UᵀU, VᵀV − I", "result");
        foreach (var row in r.Rows)
        {
            var cells = new List<IRenderable> { Cell($"{row.Rows}×{row.Cols}"), Cell($"{row.Batch}"), Cell(Method(row.Method)) };
            if (r.Timed) cells.AddRange([Cell($"{row.Ms:F3}"), Cell($"{row.Ms / row.Batch:F4}")]);
            cells.AddRange([Cell($"{row.Reconstruction:E1}"), Cell($"{row.Orthonormality:E1}"), Cell(row.Passed ? "ok" : "DIFFERS")]);
            t.AddRow(cells);
        }
        console.Write(t);
        o.WriteLine(r.Timed
            ? "ms: median solver time (CUDA events), input restored outside the timed region"
            : "correctness only on the emulator (LAPACKE sgesdd per matrix), no timings");
    }

    private static string Method(Cuda.DeviceSvdMethod m) =>
        m == Cuda.DeviceSvdMethod.BatchedJacobi ? "gesvdj batched" : "gesvd";

    private static string F(double? v, string format) => v is double d ? d.ToString(format) : "-";

    public static string GemmJson(GemmBenchmark.Report r) => Json(w =>
    {
        w.WriteString("device", r.Device);
        w.WriteBoolean("timed", r.Timed);
        w.WriteNumber("l2_bytes", r.L2Bytes);
        w.WriteString("l2_source", r.L2Source);
        if (r.CopyGBps is double bw) w.WriteNumber("copy_gbps", bw);
        w.WriteStartArray("cases");
        foreach (var row in r.Rows)
        {
            w.WriteStartObject();
            w.WriteNumber("n", row.Shape.N);
            w.WriteNumber("k", row.Shape.K);
            w.WriteNumber("bits", row.Bits);
            w.WriteNumber("m", row.M);
            if (row.Time is { } tm)
            {
                Number(w, "us", tm.LowBitUs);
                Number(w, "tflops", tm.Tflops);
                Number(w, "gbps", tm.GBps);
                w.WriteNumber("cublas_us", tm.CublasUs);
                Number(w, "speedup_over_cublas", tm.SpeedupOverCublas);
                Number(w, "of_bandwidth_bound", tm.OfBandwidthBound);
                w.WriteNumber("copies", tm.Copies);
            }
            if (row.Check is { } c)
            {
                Number(w, "lowbit_vs_cpu", c.LowBitVsCpu);
                Number(w, "lowbit_vs_gemmex", c.LowBitVsCublas);
                w.WriteNumber("gemmex_vs_cpu", c.CublasVsCpu);
                w.WriteBoolean("ok", c.Passed);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    public static string SvdJson(SvdBenchmark.Report r) => Json(w =>
    {
        w.WriteString("device", r.Device);
        w.WriteBoolean("timed", r.Timed);
        w.WriteStartArray("cases");
        foreach (var row in r.Rows)
        {
            w.WriteStartObject();
            w.WriteNumber("rows", row.Rows);
            w.WriteNumber("cols", row.Cols);
            w.WriteNumber("batch", row.Batch);
            w.WriteString("method", Method(row.Method));
            Number(w, "ms", row.Ms);
            w.WriteNumber("reconstruction", row.Reconstruction);
            w.WriteNumber("orthonormality", row.Orthonormality);
            w.WriteBoolean("ok", row.Passed);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    internal static void Number(Utf8JsonWriter w, string name, double? v)
    {
        if (v is double d) w.WriteNumber(name, d);
        else w.WriteNull(name);
    }

    internal static string Json(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
