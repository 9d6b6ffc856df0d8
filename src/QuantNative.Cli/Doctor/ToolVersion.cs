using System.Reflection;

namespace QuantNative.Cli.Doctor;

/// <summary>
/// qn's version and the commit it was built from. The .NET SDK's Source Link appends the commit to the informational
/// version ("1.0.0+&lt;sha&gt;") when it builds a git checkout; from a source tarball there is none, and the line says so.
/// </summary>
public static class ToolVersion
{
    public static string Informational { get; } =
        typeof(ToolVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static string Version => Informational.Split('+')[0];

    /// <summary>The full commit hash, or null when the build was not made from a git checkout.</summary>
    public static string? Commit => Informational.Split('+') is [_, var sha, ..] && sha.Length > 0 ? sha : null;

    public static string Line => $"qn {Version}, commit {Commit ?? "unknown (not built from a git checkout)"}";

    /// <summary>What `qn --version` prints: the version line and the one-line summary of `qn doctor`.</summary>
    public static int Print(TextWriter stdout)
    {
        stdout.WriteLine(Line);
        stdout.WriteLine(MachineChecks.Summary(MachineChecks.Run()) + " (details: qn doctor)");
        return 0;
    }
}
