# language: da
Egenskab: En scannet samtykkeerklæring finder selv sin blanket
  Hver udskrevet erklæring har en QR-kode og en blanketkode (fx K7QM-4XP2). Når
  navigatøren indlæser scanningen af den underskrevne erklæring, læser tjenesten QR-koden
  og registrerer samtykket på netop den blanket. Et samtykke må kun registreres på en
  erklæring, der er udskrevet til borgeren selv, til den rigtige samtykketype, og som ikke
  allerede er registreret (GDPR art. 7, stk. 1: den dataansvarlige skal kunne påvise,
  hvem der gav hvilket samtykke).

  Regel: Scanningens QR-kode skal tilhøre borgeren

    Scenarie: Borgerens egen erklæring registreres på den blanket, QR-koden peger på
      Givet en borger med to udskrevne erklæringer om journalsamtykke
      Når navigatøren indlæser scanningen af den første erklæring som journalsamtykke
      Så er samtykket registreret på den første erklæring

    Scenarie: En anden borgers erklæring afvises
      Givet en borger med to udskrevne erklæringer om journalsamtykke
      Og en anden borger med en udskrevet erklæring om journalsamtykke
      Når navigatøren indlæser scanningen af den anden borgers erklæring som journalsamtykke
      Så afvises scanningen med "Scanningens QR-kode skal tilhøre borgeren"
      Og intet samtykke er registreret

    Scenarie: En erklæring om den anden samtykketype afvises
      Givet en borger med en udskrevet erklæring om trivselssamtykke
      Og en udskrevet erklæring om journalsamtykke
      Når navigatøren indlæser scanningen af trivselserklæringen som journalsamtykke
      Så afvises scanningen med "ikke et journalsamtykke"
      Og intet samtykke er registreret

    Scenarie: En erklæring, der allerede er registreret, afvises
      Givet en borger med to udskrevne erklæringer om journalsamtykke
      Og scanningen af den første erklæring er registreret
      Når navigatøren indlæser scanningen af den første erklæring som journalsamtykke igen
      Så afvises scanningen med "allerede registreret"

  Regel: Kan QR-koden ikke læses, bruges blanketkoden fra papiret

    Scenarie: Blanketkoden skrives med små bogstaver og uden bindestreg
      Givet en borger med to udskrevne erklæringer om journalsamtykke
      Når navigatøren indlæser en scanning uden læsbar QR-kode og skriver den første erklærings blanketkode med små bogstaver
      Så er samtykket registreret på den første erklæring
