using QuantNative.Formats.Gptq;
using QuantNative.Quantization;

namespace QuantNative.Cli;

/// <summary>The end-of-run report of `qn quantize`: settings, per-layer error table, zero-point handling, size.</summary>
public static class QuantizeSummary
{
    public static void Write(TextWriter o, QuantizationResult result, string modelPath, string calibration, string outDir,
        double writeSeconds, IReadOnlyList<QuantNative.Formats.Gguf.GgufTensorReport>? gguf = null)
    {
        var model = result.Model;
        var q = model.Quantizer;
        o.WriteLine($"model          {modelPath}");
        o.WriteLine($"method         {model.Method} {q}" + (result.Gptq is { } g
            ? $" (damp {g.DampPercent}, block {g.BlockSize}{(g.ActOrder ? ", act-order" : "")}{(g.StaticGroups ? ", static groups" : "")})"
            : ""));
        o.WriteLine($"calibration    {calibration}");
        o.WriteLine($"time           {result.Seconds:F2} s quantizing, {writeSeconds:F2} s writing");
        o.WriteLine();
        if (result.Learned is { } omni) LearnedLossTable.Write(o, omni);
        int width = result.Layers.Max(l => l.Name.Length);
        o.WriteLine($"{"layer".PadRight(width)}  {"shape",-10} {"‖W−Ŵ‖/‖W‖",11} {"time ms",8}{(model.Method == "gptq" ? "  dead" : "")}");
        foreach (var l in result.Layers)
            o.WriteLine($"{l.Name.PadRight(width)}  {$"{l.Rows}×{l.Columns}",-10} {l.RelativeError,11:F5} {l.Seconds * 1000,8:F1}" +
                        (model.Method == "gptq" ? $"  {l.DeadColumns,4}" : ""));
        o.WriteLine($"{"mean".PadRight(width)}  {"",-10} {result.Layers.Average(l => l.RelativeError),11:F5}");
        o.WriteLine();
        foreach (var note in result.Layers.Where(l => l.GroupNote != null).Select(l => $"{l.Rows}×{l.Columns}: {l.GroupNote}").Distinct())
            o.WriteLine($"note           {note}");

        if (gguf != null)
        {
            GgufSummary.Write(o, gguf, outDir, model.Config, writeSeconds);
            return;
        }
        string format = GptqQuantizeConfig.FormatName(model.Format);
        if (model.Format == GptqCheckpointFormat.V1)
        {
            int groups = result.Layers.Sum(l => l.ClampedGroups), codes = result.Layers.Sum(l => l.ClippedCodes);
            long total = QuantizedModelSize.Of(model.Config, q).Groups;
            o.WriteLine($"format         {format} (v1): zero points of 0 cannot be stored, so they are clamped to 1 with the " +
                        $"codes of their group shifted up: {groups} of {total} groups clamped, {codes} codes already at qmax " +
                        "lost one step (included in the errors above; use --format v2 to store zeros as they are)");
        }
        else
            o.WriteLine($"format         {format} (v2): zero points stored as they are");

        var (weights, bytes, _) = QuantizedModelSize.Of(model.Config, q);
        long dirBytes = Directory.GetFiles(outDir).Sum(f => new FileInfo(f).Length);
        o.WriteLine($"quantized      {weights:N0} weights in {bytes:N0} bytes = {bytes * 8.0 / weights:F3} bits/weight " +
                    "(qweight, qzeros, scales, g_idx)");
        o.WriteLine($"output         {outDir}: {dirBytes:N0} bytes");
        foreach (var file in Directory.GetFiles(outDir).Order())
            o.WriteLine($"  {Path.GetFileName(file),-28} {new FileInfo(file).Length,12:N0} bytes");
    }
}
