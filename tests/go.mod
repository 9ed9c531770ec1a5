module github.com/kalamgo/kalam/tests

go 1.26.0

replace github.com/kalamgo/kalam => ../
