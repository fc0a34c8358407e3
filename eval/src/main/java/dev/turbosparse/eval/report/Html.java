package dev.turbosparse.eval.report;

import java.util.Base64;
import java.util.List;

/**
 * The little HTML the report needs, written as polyglot XHTML (every element closed, every attribute quoted, only
 * XML's own entities), so that a browser and an XML parser read the same document.
 */
final class Html {

    private final StringBuilder out = new StringBuilder();

    /** Text with {@code & < > "} escaped. */
    static String escape(String text) {
        StringBuilder b = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** Appends markup as it is (the caller escapes what it holds). */
    Html raw(String markup) {
        out.append(markup);
        return this;
    }

    /** {@code <tag>text</tag>}, the text escaped. */
    Html element(String tag, String text) {
        out.append('<').append(tag).append('>').append(escape(text)).append("</").append(tag).append(">\n");
        return this;
    }

    Html paragraph(String text) {
        return element("p", text);
    }

    /** A PNG image embedded as a data URI, so that the page needs no other file. */
    Html image(byte[] png, String alt) {
        out.append("<figure><img alt=\"").append(escape(alt)).append("\" src=\"data:image/png;base64,")
                .append(Base64.getEncoder().encodeToString(png)).append("\"/><figcaption>").append(escape(alt))
                .append("</figcaption></figure>\n");
        return this;
    }

    /**
     * A table: a header row, then rows of cells; the first cell of each row is its header. Cells are text, escaped;
     * a number-like cell is right-aligned.
     */
    Html table(List<String> header, List<List<String>> rows) {
        out.append("<table>\n<thead><tr>");
        for (String h : header) {
            out.append("<th>").append(escape(h)).append("</th>");
        }
        out.append("</tr></thead>\n<tbody>\n");
        for (List<String> row : rows) {
            out.append("<tr>");
            for (int i = 0; i < row.size(); i++) {
                String cell = row.get(i);
                if (i == 0) {
                    out.append("<th>").append(escape(cell)).append("</th>");
                } else {
                    out.append(numeric(cell) ? "<td class=\"n\">" : "<td>").append(escape(cell)).append("</td>");
                }
            }
            out.append("</tr>\n");
        }
        out.append("</tbody>\n</table>\n");
        return this;
    }

    private static boolean numeric(String cell) {
        return !cell.isEmpty() && (Character.isDigit(cell.charAt(0)) || cell.charAt(0) == '-' || cell.charAt(0) == '+'
                || cell.charAt(0) == '\u2212' || cell.equals("\u2014"));
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
