namespace Tollgate.Credits;

/// <summary>
/// Money is held in nano-dollars (1e-9 USD) as <see cref="long"/>: fine enough for one token of
/// the cheapest model, and never binary floating point. USD appears only at the edges (JSON, CLI).
/// </summary>
internal static class Money
{
    public const long NanosPerUsd = 1_000_000_000;

    /// <summary>USD to nano-dollars, rounding up: Tollgate never charges less than the prices say.</summary>
    public static long ToNanos(decimal usd) => (long)decimal.Ceiling(usd * NanosPerUsd);

    public static decimal ToUsd(long nanos) => nanos / (decimal)NanosPerUsd;

    /// <summary>For messages: <c>$1.234567</c>, trailing zeros trimmed but at least cents.</summary>
    public static string Format(long nanos) =>
        "$" + ToUsd(nanos).ToString(nanos % 10_000_000 == 0 ? "0.00" : "0.00#######", System.Globalization.CultureInfo.InvariantCulture);
}
