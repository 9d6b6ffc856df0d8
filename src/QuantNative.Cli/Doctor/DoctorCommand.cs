using CommandLine;

namespace QuantNative.Cli.Doctor;

[Verb("doctor", HelpText = "What this machine has for qn: OpenBLAS/LAPACKE, CPU features, the built-in model, the CUDA " +
    "emulator, the fatbins, the CUDA driver, GPUs, cuBLAS/cuSOLVER, memory and disk; each line ok or missing, with the " +
    "command that fixes it. Exit code 1 when something the CPU engine needs is missing. $QN_HIDE_LIBRARIES=openblas,... " +
    "treats libraries as absent, to see what a machine without them sees.")]
public sealed class DoctorCommand : ICommand
{
    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        var checks = MachineChecks.Run();
        stdout.WriteLine(ToolVersion.Line);
        stdout.Write(MachineChecks.Format(checks));
        var needed = checks.Where(c => c.Required && !c.Ok).Select(c => c.Name).ToList();
        var optional = checks.Where(c => !c.Required && !c.Ok).Select(c => c.Name).ToList();
        stdout.WriteLine(needed.Count > 0
            ? $"result: qn cannot run here until {string.Join(" and ", needed)} {(needed.Count == 1 ? "is" : "are")} installed (see fix above)"
            : "result: ready for the CPU engine" + (optional.Count > 0 ? $"; not available: {string.Join(", ", optional)} (see fix above)" : ""));
        return needed.Count > 0 ? 1 : 0;
    }
}
