using CommandLine;

namespace QuantNative.Cli;

/// <summary>
/// Parses the verbs and runs one. Every user-facing failure (a <see cref="QuantNativeException"/>) becomes one line on
/// stderr and exit code 1, and so does an I/O failure (full disk, read-only location); bad usage is exit code 2. Only
/// a bug in QuantNative itself prints a stack trace.
/// </summary>
public static class CommandLine
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args is ["--version"]) return Doctor.ToolVersion.Print(stdout);
        using var parser = new Parser(s =>
        {
            s.HelpWriter = stderr;
            s.CaseInsensitiveEnumValues = true;
            s.AutoVersion = false;
        });
        var result = parser.ParseArguments(args, Verbs.All);
        return result.MapResult(
            (ICommand command) => Execute(command, stdout, stderr),
            _ => 2);
    }

    private static int Execute(ICommand command, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            if (command is ModelOptions withModel) withModel.ResolveModel(stderr);
            return command.Execute(stdout, stderr);
        }
        catch (QuantNativeException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.FirstOrDefault() is QuantNativeException inner)
        {
            // Parallel loops wrap what their workers throw.
            stderr.WriteLine($"error: {inner.Message}");
            return 1;
        }
        catch (TypeInitializationException e) when (e.InnerException is QuantNativeException inner)
        {
            // A static constructor that loads a native library (Cpu.Gemm: OpenBLAS) wraps the missing-library error.
            stderr.WriteLine($"error: {inner.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The environment, not a bug: a full disk, a read-only location, a file another process holds. The
            // message names the path and the OS's reason; the writers have already removed their partial files.
            stderr.WriteLine($"error: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("error: cancelled");
            return 130;
        }
    }
}

/// <summary>A verb of `qn`: options parsed by CommandLineParser, then executed.</summary>
public interface ICommand
{
    int Execute(TextWriter stdout, TextWriter stderr);
}
