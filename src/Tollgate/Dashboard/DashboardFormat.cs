using System.Globalization;
using Tollgate.Credits;

namespace Tollgate.Dashboard;

/// <summary>Numbers as the pages print them: amounts rounded for reading (the exact amount in the title), counts with separators.</summary>
internal static class DashboardFormat
{
    /// <summary>
    /// $1 and more with cents ("$3.04"), less with four significant digits ("$0.02649", "$0.0001431"): a table stays readable
    /// and a small call is never shown as $0.00. The exact amount is <see cref="Money.Format"/>.
    /// </summary>
    public static string Usd(long nanos)
    {
        var usd = Money.ToUsd(nanos);
        var size = Math.Abs(usd);
        if (size == 0 || size >= 1)
        {
            return (usd < 0 ? "-$" : "$") + size.ToString("#,##0.00", CultureInfo.InvariantCulture);
        }

        var decimals = Math.Min(9, 3 - (int)Math.Floor(Math.Log10((double)size)));
        return (usd < 0 ? "-$" : "$") + Math.Round(size, decimals, MidpointRounding.AwayFromZero).ToString("0." + new string('#', decimals), CultureInfo.InvariantCulture);
    }

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
