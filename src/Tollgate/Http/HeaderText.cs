using System.Text;

namespace Tollgate.Http;

/// <summary>
/// Client-sent header text made safe to store and show: the dashboard, CSV exports and terminals
/// display what is recorded, so control characters (C0, DEL, C1) are dropped — an ANSI escape
/// sequence loses its ESC and is left as plain text — and so are lone surrogates.
/// </summary>
internal static class HeaderText
{
    /// <summary>The text without control characters, cut to <paramref name="maxLength"/> without splitting a surrogate pair; null when nothing is left.</summary>
    public static string? Clean(string? value, int maxLength)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        var clean = IsClean(value) ? value : Strip(value);
        if (clean.Length > maxLength)
        {
            clean = clean[..(char.IsHighSurrogate(clean[maxLength - 1]) ? maxLength - 1 : maxLength)];
        }

        return clean.Length > 0 ? clean : null;
    }

    private static bool IsClean(string value)
    {
        foreach (var c in value)
        {
            if (char.IsControl(c) || char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }

    private static string Strip(string value)
    {
        var output = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                output.Append(c).Append(value[++i]);
            }
            else if (!char.IsControl(c) && !char.IsSurrogate(c))
            {
                output.Append(c);
            }
        }

        return output.ToString();
    }
}
