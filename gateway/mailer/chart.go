package mailer

// The chart of a report: the month's logs per day as bars, a PNG drawn with
// the standard library (image, image/png) and labelled in the report's font
// (golang.org/x/image/font/opentype). A PNG rather than SVG: more than half
// of mail clients do not show inline SVG, and the PDF takes the same image.

import (
	"bytes"
	_ "embed"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strconv"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// DejaVu Sans (fonts/README.md): the chart's labels and the PDF's text.
//
//go:embed fonts/DejaVuSans.ttf
var dejaVuSans []byte

var parsedFont = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(dejaVuSans) })

// The chart's size in pixels: twice the size the HTML part shows it at
// (ChartWidth × ChartHeight), so that it is sharp on a dense screen and in
// the PDF.
const (
	ChartWidth, ChartHeight = 600, 240
	chartScale              = 2
)

var (
	chartBar   = color.RGBA{0x22, 0xaa, 0x66, 0xff} // the mails' button green
	chartGrid  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	chartText  = color.RGBA{0x55, 0x55, 0x55, 0xff}
	chartTitle = color.RGBA{0x22, 0x22, 0x22, 0xff}
)

// ChartPNG draws the month's logs per day: a bar a day, the days 1, 5, 10,
// … and the last below, the scale on the left (0, half, the top: a whole
// number of logs at least 2, so that an empty month still has a scale).
func (r *Report) ChartPNG() ([]byte, error) {
	f, err := parsedFont()
	if err != nil {
		return nil, err
	}
	const s = chartScale
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 11 * s, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, err
	}
	defer face.Close()
	titleFace, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 13 * s, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, err
	}
	defer titleFace.Close()

	w, h := ChartWidth*s, ChartHeight*s
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	left, right, top, bottom := 36*s, 8*s, 30*s, h-22*s // the plot's edges
	// text writes a label with its baseline at y, x at its start (align 0),
	// middle (0.5) or end (1).
	text := func(face font.Face, c color.Color, x, y int, label string, align float64) {
		d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face}
		d.Dot = fixed.P(x-int(float64(d.MeasureString(label).Round())*align), y)
		d.DrawString(label)
	}
	fill := func(x0, y0, x1, y1 int, c color.Color) {
		draw.Draw(img, image.Rect(x0, y0, x1, y1), image.NewUniform(c), image.Point{}, draw.Src)
	}

	text(titleFace, chartTitle, left, 18*s, "Logs per day, "+r.MonthName(), 0)
	peak := int64(2)
	for _, n := range r.Days {
		peak = max(peak, n)
	}
	peak += peak % 2 // an even top: its half is a whole number
	for _, v := range []int64{0, peak / 2, peak} {
		y := bottom - int(int64(bottom-top)*v/peak)
		fill(left, y, w-right, y+s, chartGrid)
		text(face, chartText, left-6*s, y+4*s, strconv.FormatInt(v, 10), 1)
	}
	slot := float64(w-right-left) / float64(len(r.Days))
	for i, n := range r.Days {
		x0 := left + int(float64(i)*slot+slot*0.15)
		x1 := left + int(float64(i+1)*slot-slot*0.15)
		if n > 0 {
			fill(x0, bottom-int(int64(bottom-top)*n/peak), x1, bottom, chartBar)
		}
		if day := i + 1; day == 1 || day%5 == 0 && len(r.Days)-day >= 2 || day == len(r.Days) {
			text(face, chartText, (x0+x1)/2, bottom+16*s, strconv.Itoa(day), 0.5)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
