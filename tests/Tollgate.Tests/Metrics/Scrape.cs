using System.Globalization;
using System.Text.RegularExpressions;

namespace Tollgate.Tests.Metrics;

/// <summary>One scrape of <c>/metrics</c>, parsed from the Prometheus text format.</summary>
internal sealed partial class Scrape
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public Scrape(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
            _samples.Add((match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
    }

    public string Text { get; }

    /// <summary>The sample with exactly these labels, or null when the scrape has none.</summary>
    public double? Find(string name, params (string Label, string Value)[] labels) => _samples
        .Where(s => s.Name == name && s.Labels.Count == labels.Length && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value))
        .Select(s => (double?)s.Value)
        .SingleOrDefault();

    /// <summary>The sample with exactly these labels; fails when it is missing.</summary>
    public double Value(string name, params (string Label, string Value)[] labels) =>
        Find(name, labels) ?? throw new Xunit.Sdk.XunitException(
            $"no sample {name}{{{string.Join(",", labels.Select(l => $"{l.Label}=\"{l.Value}\""))}}} in:\n{Text}");

    /// <summary>Every sample of a metric, with its labels.</summary>
    public IReadOnlyList<(Dictionary<string, string> Labels, double Value)> All(string name) =>
        _samples.Where(s => s.Name == name).Select(s => (s.Labels, s.Value)).ToArray();

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\S+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""(\w+)="((?:[^"\\]|\\.)*)"(,|$)""")]
    private static partial Regex LabelPair();
}
