using System.Globalization;
using QuantNative.Cpu;

namespace QuantNative.Quantization.Learned.Cqe;

/// <summary>
/// The fixed 0/1 mask M of SDE (DESIGN.md §7.6) over the r×r matrix E of singular-direction couplings: `diag` (LSI),
/// `band:b` (|i − j| ≤ b), `block:k` (the dense top-left k×k: the k largest directions coupled), and unions written
/// with '+' (`band:1+block:8`). Every mask contains the diagonal of its span (a band always; a block its own
/// diagonal), so SDE contains LSI. The spec is parsed once (errors name --sde); <see cref="For"/> lays it out for a
/// layer of rank r, where `block:k` with k &gt; r is refused (the layer has no k-th direction).
/// </summary>
public sealed class SdeMask
{
    private readonly List<(Kind Kind, int Size)> _parts;

    private enum Kind { Diag, Band, Block }

    private SdeMask(string spec, List<(Kind, int)> parts)
    {
        Spec = spec;
        _parts = parts;
    }

    public string Spec { get; }

    public override string ToString() => Spec;

    public static SdeMask Diagonal => Parse("diag");

    /// <summary>Parses `diag`, `band:b` (b ≥ 0), `block:k` (k ≥ 1) and '+'-unions of them.</summary>
    public static SdeMask Parse(string spec)
    {
        const string expected = "expected diag, band:b (b ≥ 0), block:k (k ≥ 1), or a union such as band:1+block:8";
        if (string.IsNullOrWhiteSpace(spec)) throw new QuantNativeException($"--sde '{spec}': empty mask; {expected}");
        var parts = new List<(Kind, int)>();
        foreach (string raw in spec.Split('+'))
        {
            string part = raw.Trim().ToLowerInvariant();
            if (part == "diag")
            {
                parts.Add((Kind.Diag, 0));
                continue;
            }
            int colon = part.IndexOf(':');
            string name = colon < 0 ? part : part[..colon];
            if (name is not ("band" or "block") || colon < 0)
                throw new QuantNativeException($"--sde '{spec}': unknown mask part '{raw.Trim()}'; {expected}");
            if (!int.TryParse(part[(colon + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int size))
                throw new QuantNativeException($"--sde '{spec}': '{raw.Trim()}' needs an integer after ':'; {expected}");
            if (name == "band" && size < 0)
                throw new QuantNativeException($"--sde '{spec}': band:{size} has a negative half-width; {expected}");
            if (name == "block" && size < 1)
                throw new QuantNativeException($"--sde '{spec}': block:{size} couples no direction; {expected}");
            parts.Add((name == "band" ? Kind.Band : Kind.Block, size));
        }
        return new SdeMask(spec.Trim(), parts);
    }

    /// <summary>True when the mask is exactly the diagonal (`diag` or `band:0`): SDE is then LSI.</summary>
    public bool IsDiagonal => _parts.All(p => p.Kind == Kind.Diag || p is { Kind: Kind.Band, Size: 0 });

    /// <summary>The largest `block:k`, checked against a layer's rank before any work (null: no block part).</summary>
    public int? LargestBlock => _parts.Where(p => p.Kind == Kind.Block).Select(p => (int?)p.Size).Max();

    public bool Contains(int i, int j) => _parts.Any(p => p.Kind switch
    {
        Kind.Diag => i == j,
        Kind.Band => Math.Abs(i - j) <= p.Size,
        _ => i < p.Size && j < p.Size,
    });

    /// <summary>The mask's entries for a layer of rank <paramref name="rank"/>.</summary>
    public SdeMaskLayout For(int rank, string layer)
    {
        if (LargestBlock is int k && k > rank)
            throw new QuantNativeException($"--sde {Spec}: block:{k} needs {k} singular directions but {layer} has rank " +
                                           $"{rank}; expected k ≤ {rank}");
        // Directions a band or the diagonal touch: all of them; a block alone: its k leading ones.
        bool full = _parts.Any(p => p.Kind != Kind.Block);
        int active = full ? rank : LargestBlock!.Value;
        var rows = new List<int>();
        var cols = new List<int>();
        // Column-major order (j, then i): the composition A = U·(M⊙E) builds column j of A from the entries of column j.
        for (int j = 0; j < active; j++)
            for (int i = 0; i < active; i++)
                if (Contains(i, j))
                {
                    rows.Add(i);
                    cols.Add(j);
                }
        return new SdeMaskLayout(rank, active, rows.ToArray(), cols.ToArray());
    }
}
