namespace QuantNative.Cli;

/// <summary>The list of verbs `qn` knows; each is a class with [Verb] and <see cref="ICommand"/>.</summary>
public static class Verbs
{
    public static readonly Type[] All =
    [
        typeof(InfoCommand),
        typeof(EvalCommand),
        typeof(GenerateCommand),
        typeof(ConvertCommand),
        typeof(BenchCommand),
        typeof(QuantizeCommand),
        typeof(AblateCommand),
        typeof(TokenizeCommand),
        typeof(SynthesizeCommand),
        typeof(ExportCommand),
        typeof(TestBackendCommand),
        typeof(Doctor.DoctorCommand),
    ];
}
