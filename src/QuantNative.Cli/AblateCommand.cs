using System.Globalization;
using CommandLine;
using QuantNative.Cli.Ablation;
using QuantNative.Evaluation;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Methods;

namespace QuantNative.Cli;

[Verb("ablate", HelpText = "Quantize a model with several methods, bit widths and group sizes; write a perplexity/time table as markdown and CSV.")]
public sealed class AblateCommand : QuantizerOptions, ICommand
{
    [Option("calib", HelpText = "UTF-8 calibration text; default for the built-in model: its TinyStories calibration slice.")]
    public string? Calib { get; set; }

    [Option("calib-range", Default = "0:1", HelpText = "Part of --calib to use, start:end fractions (e.g. 0:0.5).")]
    public string CalibRange { get; set; } = "0:1";

    [Option("eval", HelpText = "UTF-8 evaluation text; default for the built-in model: its held-out TinyStories slice.")]
    public string? Eval { get; set; }

    [Option("eval-range", Default = "0:1", HelpText = "Part of --eval to use, start:end fractions (e.g. 0.5:1).")]
    public string EvalRange { get; set; } = "0:1";

    [Option("eval2", HelpText = "A second evaluation text (whole file), reported in its own column.")]
    public string? Eval2 { get; set; }

    [Option("methods", Default = AllMethods, HelpText = "Comma-separated methods: fp32, rtn, gptq, omniquant, lsi (+LSI), sde (+SDE), cll (+CLL), cqe+ (SDE and CLL); default all.")]
    public string Methods { get; set; } = AllMethods;

    private const string AllMethods = "fp32,rtn,gptq,omniquant,lsi,sde,cll,cqe+";

    [Option("wbits", Default = "2,3,4", HelpText = "Comma-separated bit widths.")]
    public string WBits { get; set; } = "2,3,4";

    [Option("group", Default = "-1,32", HelpText = "Comma-separated group sizes, -1 (or pc) for per-channel; write --group=-1,32.")]
    public string Groups { get; set; } = "-1,32";

    [Option("seeds", HelpText = "Comma-separated seeds (calibration windows and window shuffle); each row reports the mean and spread over them. Default: --seed.")]
    public string? Seeds { get; set; }

    [Option("seqlen", HelpText = "Tokens per calibration window (default 2048, 256 on the built-in calibration slice; capped at the model's context).")]
    public int? SeqLen { get; set; }

    [Option("ctx", HelpText = "Evaluation window in tokens (default: the model's context).")]
    public int? Ctx { get; set; }

    [Option("max-windows", HelpText = "Evaluate only the first K windows of each text.")]
    public int? MaxWindows { get; set; }

    [Option("out", Required = true, HelpText = "Markdown report path; the CSV is written beside it (.csv).")]
    public string Out { get; set; } = "";

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        OutOption.Check(Out);
        var methods = Split(Methods, "--methods").Select(AblationMethods.Create).ToList();
        var bits = Split(WBits, "--wbits").Select(b => Int(b, "--wbits")).ToList();
        var groups = Split(Groups, "--group").Select(g => g is "pc" or "per-channel" ? -1 : Int(g, "--group")).ToList();
        // Checks every combination's options up front (bits, group, damp, format) with the single-run rules.
        foreach (int b in bits) foreach (int g in groups)
            QuantizeSettings.Parse("rtn", b, g, Sym, ActOrder, StaticGroups, Damp, Format);
        var format = QuantizeSettings.Parse("rtn", bits[0], groups[0], Sym, ActOrder, StaticGroups, Damp, Format).Format;
        var gptq = new GptqOptions { DampPercent = Damp, ActOrder = ActOrder, StaticGroups = StaticGroups };
        var omni = QuantizeSettings.Learned(Epochs, LwcLr, Seed);
        if (Sym && methods.Any(AblationMethods.IsLearned))
            throw new QuantNativeException("--sym: the learned methods' weight clipping is asymmetric; leave --sym out");
        var cqe = QuantizeSettings.Cqe(QuantizationMethods.Find("cqe+"), Sde, SdeLr, Cll, CllWeight, CllLookAhead, InitFrom)!;
        if (InitFrom != null)
            throw new QuantNativeException("--init-from: qn ablate starts every learned row from OmniQuant's initial clipping; leave it out");
        var seeds = Seeds == null ? [Seed] : Split(Seeds, "--seeds").Select(v => Int(v, "--seeds")).Distinct().ToList();

        int contextLength, vocab;
        using (var probe = OpenModel()) (contextLength, vocab) = (probe.Config.MaxPositionEmbeddings, probe.Config.VocabSize);
        var tokenizer = LoadTokenizer(vocab);
        var (calibPath, calibLabel) = TextOrBuiltin(Calib, "--calib", heldOut: false, tokenizer, stderr);
        var (evalPath, evalLabel) = TextOrBuiltin(Eval, "--eval", heldOut: true, tokenizer, stderr);
        string calibText = TextRange.Slice(TextFile.ReadUtf8(calibPath, "--calib"), CalibRange, "--calib-range");
        int[] calibTokens = tokenizer.EncodeAsTemplate(calibText);
        var (count, length) = CalibrationShape(SeqLen, builtinText: Calib == null);
        var windowsBySeed = seeds.ToDictionary(seed => seed, seed =>
            CalibrationSampler.Sample(calibTokens, count, length, seed, contextLength, $"--calib {calibLabel} ({CalibRange})"));
        var first = windowsBySeed[seeds[0]];
        if (CalibrationSampler.OverlapWarning(calibTokens.Length, first.Length, first[0].Length) is { } warning)
            stderr.WriteLine($"warning: {warning}");
        int ctx = Ctx ?? contextLength;
        var evalSets = new List<(string Label, int[] Tokens)>
        {
            ($"{Path.GetFileName(evalLabel)} [{EvalRange}]",
             tokenizer.EncodeAsTemplate(TextRange.Slice(TextFile.ReadUtf8(evalPath, "--eval"), EvalRange, "--eval-range"))),
        };
        if (Eval2 != null) evalSets.Add((Path.GetFileName(Eval2), tokenizer.EncodeAsTemplate(TextFile.ReadUtf8(Eval2, "--eval2"))));
        foreach (var (_, tokens) in evalSets) Perplexity.CountWindows(tokens.Length, ctx, contextLength);

        var rows = new List<AblationRow>();
        var progress = new ProgressReporter(stderr);
        foreach (var method in methods)
        {
            var configs = method.Quantizes
                ? bits.SelectMany(b => groups.Select(g => (QuantizerConfig?)new QuantizerConfig(b, g, Sym))).ToList()
                : [null];
            foreach (var config in configs)
            // fp32 and rtn use no calibration: one run stands for every seed.
            foreach (int seed in method.Name is "fp32" or "rtn" ? seeds.Take(1) : seeds)
            {
                var context = new AblationContext(Model, windowsBySeed[seed], Sym, gptq, format)
                    { Learned = omni, Cqe = cqe, Seed = seed };
                string label = (config == null ? method.Name : $"{method.Name} {config}") + (seeds.Count > 1 ? $" seed {seed}" : "");
                var made = progress.Run(label, report => method.Run(context, config, report));
                var ppl = evalSets.Select(e => progress.Run($"{label} eval", report =>
                    Perplexity.Evaluate(made.Model, e.Tokens, ctx, MaxWindows, (d, t) => report(d, t, "windows")))).ToList();
                rows.Add(new AblationRow(method.Name, config, ppl, made.Seconds, made.Quantized, seed));
                stderr.WriteLine($"{label}: ppl {string.Join(" / ", ppl.Select(p => p.Ppl.ToString("F3", CultureInfo.InvariantCulture)))}, " +
                                 $"{made.Seconds:F1} s");
            }
        }

        var report = new AblationReport(CommandText(calibLabel, evalLabel, count, length), ModelLabel, calibLabel, CalibRange, calibTokens.Length, windowsBySeed[seeds[0]],
            seeds, evalSets.Select(e => e.Label).ToList(), ctx, MaxWindows, gptq, format, Sym, rows) { Learned = omni, Cqe = cqe };
        report.Write(Out);
        var figures = AblationFigures.Write(report, Out);
        stdout.Write(report.Markdown());
        stdout.WriteLine($"wrote {Out}, {AblationReport.CsvPath(Out)} and the figures " +
                         string.Join(", ", figures.Select(f => $"{f} (+ .svg)")));
        return 0;
    }

    private string CommandText(string calib, string eval, int windows, int length)
    {
        var args = new List<string> { "qn ablate", $"--model {ModelLabel}" };
        if (Tokenizer != null && ModelLabel != Builtin.BuiltinModel.Name) args.Add($"--tokenizer {Tokenizer}");
        // The texts and the calibration shape as they were used, so that the command repeats the run outside qn's defaults.
        args.Add($"--calib {calib} --calib-range {CalibRange} --eval {eval} --eval-range {EvalRange}");
        if (Eval2 != null) args.Add($"--eval2 {Eval2}");
        args.Add($"--methods {Methods} --wbits {WBits} --group={Groups}");
        if (Sym) args.Add("--sym");
        if (ActOrder) args.Add("--act-order");
        if (StaticGroups) args.Add("--static-groups");
        args.Add($"--damp {Damp.ToString(CultureInfo.InvariantCulture)} --format {Format} --nsamples {windows} --seqlen {length} " +
                 (Seeds != null ? $"--seeds {Seeds}" : $"--seed {Seed}"));
        if (Epochs != null) args.Add($"--epochs {Epochs}");
        if (LwcLr != LearnedOptions.DefaultLearningRate) args.Add($"--lwc-lr {LwcLr.ToString(CultureInfo.InvariantCulture)}");
        if (Sde != null) args.Add($"--sde {Sde}");
        if (SdeLr != CqeOptions.DefaultSdeLearningRate) args.Add($"--sde-lr {SdeLr.ToString(CultureInfo.InvariantCulture)}");
        if (Cll != null) args.Add($"--cll {Cll}");
        if (CllWeight != CqeOptions.DefaultLookAheadWeight) args.Add($"--cll-weight {CllWeight.ToString(CultureInfo.InvariantCulture)}");
        if (CllLookAhead != "fp") args.Add($"--cll-lookahead {CllLookAhead}");
        if (Ctx != null) args.Add($"--ctx {Ctx}");
        if (MaxWindows != null) args.Add($"--max-windows {MaxWindows}");
        args.Add($"--out {Out}");
        return string.Join(" ", args);
    }

    private static List<string> Split(string list, string option)
    {
        var items = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        if (items.Count == 0) throw new QuantNativeException($"{option} '{list}': expected a comma-separated list");
        return items;
    }

    private static int Int(string s, string option) =>
        int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v)
            ? v
            : throw new QuantNativeException($"{option}: '{s}' is not an integer");
}
