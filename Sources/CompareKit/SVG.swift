import Foundation

/// Escapes text for XML content and attribute values (SVG and HTML alike): the five
/// characters with a meaning in markup, and control characters XML 1.0 does not allow.
public func escapeMarkup(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
        case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value): out += "\u{FFFD}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// A small SVG writer: elements appended in drawing order, every attribute value and text
/// escaped, so that a command or workload name cannot break the document.
struct SVGWriter {
    let width: Double
    let height: Double
    private var body: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// `<name a="v" ...>text</name>`, or self-closing without text.
    mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String>, optional: [(String, String)] = [],
                          text: String? = nil) {
        var tag = "<" + name
        for (key, value) in Array(attributes) + optional { tag += " \(key)=\"\(escapeMarkup(value))\"" }
        if let text {
            body.append(tag + ">" + escapeMarkup(text) + "</\(name)>")
        } else {
            body.append(tag + "/>")
        }
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String,
                       width: Double = 1, dash: String? = nil, opacity: Double = 1) {
        element("line", ["x1": num(x1), "y1": num(y1), "x2": num(x2), "y2": num(y2), "stroke": stroke,
                         "stroke-width": num(width), "stroke-opacity": num(opacity)],
                optional: dash.map { [("stroke-dasharray", $0)] } ?? [])
    }

    mutating func text(_ s: String, x: Double, y: Double, size: Double = 12, anchor: String = "start",
                       weight: String = "normal", fill: String = "#222", rotate: Bool = false) {
        element("text", ["x": num(x), "y": num(y), "font-size": num(size), "text-anchor": anchor,
                         "font-weight": weight, "fill": fill],
                optional: rotate ? [("transform", "rotate(-90 \(num(x)) \(num(y)))")] : [], text: s)
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.5, dash: String? = nil,
                           opacity: Double = 1) {
        guard points.count > 1 else { return }
        element("polyline", ["points": points.map { "\(num($0.0)),\(num($0.1))" }.joined(separator: " "),
                             "fill": "none", "stroke": stroke, "stroke-width": num(width),
                             "stroke-opacity": num(opacity), "stroke-linejoin": "round"],
                optional: dash.map { [("stroke-dasharray", $0)] } ?? [])
    }

    mutating func circle(_ x: Double, _ y: Double, r: Double, fill: String) {
        element("circle", ["cx": num(x), "cy": num(y), "r": num(r), "fill": fill])
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, stroke: String = "none") {
        element("rect", ["x": num(x), "y": num(y), "width": num(w), "height": num(h), "fill": fill, "stroke": stroke])
    }

    /// The standalone document; `title` becomes the accessible name.
    func document(title: String) -> String {
        let w = num(width), h = num(height)
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" "
            + "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\">\n"
            + "<title>\(escapeMarkup(title))</title>\n" + body.joined(separator: "\n") + "\n</svg>\n"
    }
}

/// Coordinates with at most two decimals: smaller files, same picture.
func num(_ x: Double) -> String {
    let r = (x * 100).rounded() / 100
    return r == r.rounded() && abs(r) < 1e12 ? String(Int64(r)) : String(r)
}
