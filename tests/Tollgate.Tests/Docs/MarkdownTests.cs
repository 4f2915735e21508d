using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace Tollgate.Tests.Docs;

/// <summary>
/// The README and every file in <c>docs/</c>, rendered with a CommonMark parser (Markdig): every code fence is closed, and
/// every relative link reaches a file inside the repository (and, with an anchor, a heading of it). The repository stands
/// alone: nothing links outside it.
/// </summary>
public sealed class MarkdownTests
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UseAdvancedExtensions()
        .Build();

    public static TheoryData<string> Files()
    {
        var root = RepositoryRoot();
        var files = new TheoryData<string> { "README.md" };
        foreach (var file in Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal))
        {
            files.Add(Path.GetRelativePath(root, file).Replace('\\', '/'));
        }

        return files;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryFenceIsClosed_AndEveryLinkStaysInTheRepository(string file)
    {
        var root = RepositoryRoot();
        var path = Path.Combine(root, file);
        var document = Markdown.Parse(File.ReadAllText(path), Pipeline);
        var problems = new List<string>();

        foreach (var fence in document.Descendants<FencedCodeBlock>())
        {
            if (fence.ClosingFencedCharCount == 0)
            {
                problems.Add($"line {fence.Line + 1}: a code fence that is never closed (the rest of the file is code)");
            }
        }

        foreach (var link in document.Descendants<LinkInline>())
        {
            var url = link.Url ?? "";
            if (url.Length == 0 || url.StartsWith("http://", StringComparison.Ordinal) || url.StartsWith("https://", StringComparison.Ordinal) ||
                url.StartsWith("mailto:", StringComparison.Ordinal))
            {
                continue;
            }

            var (target, anchor) = url.Split('#', 2) is [var t, var a] ? (t, a) : (url, null);
            var targetPath = target.Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, Uri.UnescapeDataString(target)));
            if (!targetPath.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && targetPath != root)
            {
                problems.Add($"line {link.Line + 1}: {url} points outside the repository");
                continue;
            }

            if (!File.Exists(targetPath) && !Directory.Exists(targetPath))
            {
                problems.Add($"line {link.Line + 1}: {url}: no such file");
                continue;
            }

            if (anchor is { Length: > 0 } && targetPath.EndsWith(".md", StringComparison.Ordinal) &&
                !Anchors(targetPath).Contains(anchor))
            {
                problems.Add($"line {link.Line + 1}: {url}: no heading with that anchor");
            }
        }

        Assert.True(problems.Count == 0, $"{file}:\n" + string.Join("\n", problems));
    }

    /// <summary>The anchors GitHub gives a file's headings: lower case, punctuation dropped, each space a hyphen (numbered when repeated).</summary>
    private static HashSet<string> Anchors(string file)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var heading in Markdown.Parse(File.ReadAllText(file), Pipeline).Descendants<HeadingBlock>())
        {
            var text = string.Concat(heading.Inline?.Descendants<Inline>().Select(i => i switch
            {
                LiteralInline literal => literal.Content.ToString(),
                CodeInline code => code.Content,
                _ => "",
            }) ?? []);
            var slug = new string([.. text.ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').Select(c => c == ' ' ? '-' : c)]);
            var unique = slug;
            for (var n = 1; !anchors.Add(unique); n++)
            {
                unique = $"{slug}-{n}";
            }
        }

        return anchors;
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Tollgate.slnx")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Tollgate.slnx) was not found above the test output.");
    }
}
