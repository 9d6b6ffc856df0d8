using System.Reflection;
using System.Reflection.Emit;
using NUnit.Framework;

namespace QuantNative.Tests.Architecture;

/// <summary>
/// The folders of the library have a direction (DESIGN.md §2): Interop, Model and Formats at the bottom, then the
/// ops (Cpu, Backends, Cuda), Training, Quantization, Inference, Evaluation and Benchmarks; the CLI on top. A type may
/// use its own floor and the floors below it, never one above. Read from the compiled assembly, not the sources:
/// every type a type names in its signatures, fields, base types and method bodies (IL tokens), so an implicit
/// parent-namespace reference or a fully qualified name cannot hide.
/// </summary>
public class NamespaceDirectionTests
{
    /// <summary>Bottom to top. "QuantNative" is the root namespace (QuantNativeException), usable from everywhere.</summary>
    public static readonly string[] Floors =
    [
        "QuantNative", "Interop", "Model", "Formats", "Tokenization", "Cpu", "Backends", "Cuda", "Training",
        "Quantization", "Inference", "Evaluation", "Benchmarks", "Verification",
    ];

    [Test]
    public void NoNamespaceUsesOneAboveIt()
    {
        var assembly = typeof(QuantNativeException).Assembly;
        var violations = new SortedSet<string>();
        foreach (var type in assembly.GetTypes())
        {
            int from = FloorOf(type);
            foreach (var used in ReferencedTypes(type))
            {
                if (used.Assembly != assembly) continue;
                int to = FloorOf(used);
                if (to > from)
                    violations.Add($"{Outer(type).FullName} ({Floors[from]}) uses {Outer(used).FullName} ({Floors[to]})");
            }
        }
        Assert.That(violations, Is.Empty, "namespaces that use a floor above them:\n" + string.Join("\n", violations));
    }

    [Test]
    public void EveryNamespaceHasAFloor()
    {
        var unknown = typeof(QuantNativeException).Assembly.GetTypes()
            .Select(t => Outer(t).Namespace ?? "")
            .Where(n => n.StartsWith("QuantNative", StringComparison.Ordinal) && !Floors.Contains(Top(n)))
            .Distinct().ToList();
        Assert.That(unknown, Is.Empty, "add these namespaces to the floor table");
    }

    [Test]
    public void TheCheckSeesAReferenceInAMethodBody()
    {
        // A type named only inside a method body (a typeof token, a call) is found: without the IL scan neither
        // would be, since neither class has a field, base or signature of that type.
        Assert.That(ReferencedTypes(typeof(NamespaceDirectionTests)), Does.Contain(typeof(QuantNativeException)));
        Assert.That(ReferencedTypes(typeof(Probe)), Does.Contain(typeof(QuantNative.Formats.MappedFile)));
    }

    private static class Probe
    {
        public static object Open() => QuantNative.Formats.MappedFile.Open("x");
    }

    private static Type Outer(Type t)
    {
        while (t.DeclaringType != null) t = t.DeclaringType;
        return t;
    }

    private static string Top(string ns)
    {
        var parts = ns.Split('.');
        return parts.Length == 1 ? parts[0] : parts[1];
    }

    private static int FloorOf(Type t)
    {
        string top = Top(Outer(t).Namespace ?? "QuantNative");
        int i = Array.IndexOf(Floors, top);
        return i < 0 ? 0 : i; // compiler-generated types without a namespace count as the root
    }

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                     BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly OpCode[] OneByte = new OpCode[0x100], TwoByte = new OpCode[0x100];

    static NamespaceDirectionTests()
    {
        foreach (var f in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)f.GetValue(null)!;
            ushort v = (ushort)op.Value;
            if (v < 0x100) OneByte[v] = op;
            else if ((v & 0xff00) == 0xfe00) TwoByte[v & 0xff] = op;
        }
    }

    /// <summary>Every type <paramref name="type"/> names: base, interfaces, generic arguments, fields, properties,
    /// method signatures and the type/member tokens of its method bodies.</summary>
    public static IEnumerable<Type> ReferencedTypes(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t == null) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            if (t.IsGenericParameter) return;
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (var a in t.GetGenericArguments()) Add(a);
                Add(t.GetGenericTypeDefinition());
                return;
            }
            found.Add(t);
        }
        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(All)) Add(f.FieldType);
        foreach (var p in type.GetProperties(All)) Add(p.PropertyType);
        foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            foreach (var t in BodyTypes(m)) Add(t);
        }
        foreach (var nested in type.GetNestedTypes(All))
            foreach (var t in ReferencedTypes(nested)) found.Add(t);
        return found;
    }

    private static IEnumerable<Type> BodyTypes(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (InvalidOperationException) { yield break; }
        if (il == null) yield break;
        var module = method.Module;
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            OpCode op = il[pos] == 0xfe ? TwoByte[il[++pos]] : OneByte[il[pos]];
            pos++;
            switch (op.OperandType)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: pos += 1; break;
                case OperandType.InlineVar: pos += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: pos += 8; break;
                case OperandType.InlineSwitch: pos += 4 + 4 * BitConverter.ToInt32(il, pos); break;
                case OperandType.InlineType or OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineTok:
                {
                    int token = BitConverter.ToInt32(il, pos);
                    pos += 4;
                    MemberInfo? member = null;
                    try { member = module.ResolveMember(token, typeArgs, methodArgs); }
                    catch (ArgumentException) { }
                    catch (TypeLoadException) { }
                    if (member is Type t) yield return t;
                    else if (member != null)
                    {
                        if (member.DeclaringType != null) yield return member.DeclaringType;
                        if (member is FieldInfo fi) yield return fi.FieldType;
                        if (member is MethodInfo mi)
                        {
                            yield return mi.ReturnType;
                            foreach (var g in mi.IsGenericMethod ? mi.GetGenericArguments() : []) yield return g;
                        }
                    }
                    break;
                }
                default: pos += 4; break;
            }
        }
    }
}
