package mailer

// The PDF of a report (report_format pdf): one A4 page with the title, the
// table of the report's fields and the chart, made with
// codeberg.org/go-pdf/fpdf (the maintained home of fpdf) in DejaVu Sans,
// a UTF-8 TrueType font embedded in the sender (fonts/README.md), so a
// tracker named in any Latin, Greek or Cyrillic script prints as typed. fpdf
// embeds only the glyphs the page uses: the file stays small.

import (
	"bytes"

	"codeberg.org/go-pdf/fpdf"
)

// RenderPDF makes the PDF of the report with its chart (a PNG, ChartPNG).
// The file's dates are the month's (not the time of sending), so that the
// same report is the same file.
func (r *Report) RenderPDF(chart []byte) ([]byte, error) {
	const family = "DejaVu"
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.SetCreationDate(r.Month)
	pdf.SetModificationDate(r.Month)
	pdf.SetTitle(r.Title(), true)
	pdf.SetAuthor(r.DisplayName, true)
	pdf.SetCreator("homebase mail sender", true)
	pdf.AddUTF8FontFromBytes(family, "", dejaVuSans)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	pdf.AddPage()
	width, _ := pdf.GetPageSize()
	inner := width - 40

	pdf.SetTextColor(0x22, 0x22, 0x22)
	pdf.SetFont(family, "", 20)
	pdf.MultiCell(inner, 10, r.Title(), "", "L", false)
	pdf.SetFont(family, "", 10)
	pdf.SetTextColor(0x77, 0x77, 0x77)
	pdf.MultiCell(inner, 6, r.DisplayName+" ("+r.Username+") · "+r.TimeZone, "", "L", false)
	pdf.Ln(6)

	pdf.SetFont(family, "", 12)
	for i, row := range r.Rows() {
		pdf.SetTextColor(0x55, 0x55, 0x55)
		pdf.SetFillColor(0xf4, 0xf4, 0xf4)
		fill := i%2 == 0
		pdf.CellFormat(80, 9, row.Label, "", 0, "L", fill, 0, "")
		pdf.SetTextColor(0x22, 0x22, 0x22)
		pdf.MultiCell(inner-80, 9, row.Value, "", "L", fill)
	}
	pdf.Ln(8)

	pdf.RegisterImageOptionsReader("chart", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(chart))
	pdf.ImageOptions("chart", 20, pdf.GetY(), inner, inner*ChartHeight/ChartWidth, true,
		fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	pdf.Ln(4)
	pdf.SetFont(family, "", 9)
	pdf.SetTextColor(0x77, 0x77, 0x77)
	note := "Counted in " + r.TimeZone + ", from the 1st of the month to its last day."
	if !r.Complete {
		note += " The month had not ended when this report was made: a report so far."
	}
	pdf.MultiCell(inner, 5, note, "", "L", false)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
