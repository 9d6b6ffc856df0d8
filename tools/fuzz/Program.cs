using SharpFuzz;

namespace QuantNative.Fuzz;

/// <summary>
/// `dotnet QuantNative.Fuzz.dll HARNESS` under afl-fuzz (tools/fuzz.sh): SharpFuzz runs the harness once per input in
/// this process, with QuantNative.dll instrumented for coverage. `... HARNESS FILE...` replays inputs without AFL and
/// prints the exception of each one that fails; `... make-seeds DIR` writes the generated seeds.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "make-seeds")
        {
            Harnesses.MakeSeeds(args[1]);
            return 0;
        }
        if (args.Length == 0 || !Harnesses.All.ContainsKey(args[0]))
        {
            Console.Error.WriteLine($"usage: QuantNative.Fuzz {{{string.Join("|", Harnesses.All.Keys)}}} [FILE...] | make-seeds DIR");
            return 2;
        }
        string harness = args[0];
        if (args.Length > 1)
        {
            int failed = 0;
            foreach (var file in args.Skip(1))
            {
                try
                {
                    Harnesses.Run(harness, File.ReadAllBytes(file));
                }
                catch (Exception e)
                {
                    failed++;
                    Console.Error.WriteLine($"{file}: {e}");
                }
            }
            return failed == 0 ? 0 : 1;
        }
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            Harnesses.Run(harness, copy.ToArray());
        });
        return 0;
    }
}
