using CommandLine;

namespace QuantNative.Cli;

[Verb("info", HelpText = "Print a model's architecture, parameter count, dtypes and tensor shapes.")]
public sealed class InfoCommand : ICommand
{
    [Option("model", HelpText = "A llama2.c .bin checkpoint or a Hugging Face directory; default: " + Builtin.BuiltinModel.Name + ", the model built into qn.")]
    public string? Model { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        string model = Builtin.BuiltinModel.CheckModelOption(Model);
        bool builtin = Builtin.BuiltinModel.Names(Model);
        if (builtin) stderr.WriteLine(Builtin.BuiltinModel.Announcement(named: Model != null));
        using var source = QuantNative.Formats.ModelLoader.Open(builtin ? Builtin.BuiltinModel.ModelPath : model);
        var c = source.Config;
        stdout.WriteLine($"model                {(builtin ? Builtin.BuiltinModel.Name : source.Path)}");
        stdout.WriteLine($"format               {source.Format}");
        stdout.WriteLine($"architecture         {c.Identity.Architecture} (model_type {c.Identity.ModelType})");
        stdout.WriteLine($"parameters           {c.ParameterCount:N0} ({c.ParameterCount / 1e6:F2} M)");
        stdout.WriteLine($"hidden_size          {c.HiddenSize}");
        stdout.WriteLine($"intermediate_size    {c.IntermediateSize}");
        stdout.WriteLine($"layers               {c.NumLayers}");
        stdout.WriteLine($"heads / kv heads     {c.NumHeads} / {c.NumKvHeads} (head dim {c.HeadDim})");
        stdout.WriteLine($"vocab_size           {c.VocabSize}");
        stdout.WriteLine($"context              {c.MaxPositionEmbeddings}");
        stdout.WriteLine($"rms_norm_eps         {c.RmsNormEps:G}");
        stdout.WriteLine($"rope                 {c.Rope}" + (c.RopeScaling.Type == QuantNative.Model.RopeType.Llama3
            ? $" (low/high freq factor {c.RopeScaling.LowFreqFactor:G}/{c.RopeScaling.HighFreqFactor:G}, original context {c.RopeScaling.OriginalMaxPositions})"
            : ""));
        stdout.WriteLine($"attention            {Attention(c)}");
        stdout.WriteLine($"tied embeddings      {(c.TieWordEmbeddings ? "yes" : "no")}");
        var dtypes = source.Tensors.GroupBy(t => t.DType)
            .Select(g => $"{g.Key} ×{g.Count()} ({g.Sum(t => t.ElementCount):N0} values)");
        stdout.WriteLine($"dtypes               {string.Join(", ", dtypes)}");
        stdout.WriteLine($"tensors              {source.Tensors.Count}");
        int width = source.Tensors.Count == 0 ? 10 : source.Tensors.Max(t => t.Name.Length);
        foreach (var t in source.Tensors)
            stdout.WriteLine($"  {t.Name.PadRight(width)}  {t.DType,-5} [{string.Join(", ", t.Shape)}]");
        return 0;
    }

    private static string Attention(QuantNative.Model.LlamaConfig c)
    {
        var parts = new List<string> { c.SlidingWindow > 0 ? $"sliding window {c.SlidingWindow}" : "causal" };
        if (c.AttentionBias) parts.Add(c.OutputBias ? "q/k/v/o biases" : "q/k/v biases");
        if (c.QkNorm) parts.Add("q/k norms");
        return string.Join(", ", parts);
    }
}
