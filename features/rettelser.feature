# language: da
Egenskab: En borgers oplysninger kan rettes, med begrundelse og historik
  En navigatør kan rette en borgers navn, telefon, e-mail, bopælskommune og lægepraksis.
  Rettelsen kræver en begrundelse. Kun de felter, der ændres, gemmes, hver med værdien før
  og efter, sammen med begrundelsen, hvem der rettede, og hvornår. Loggen nævner kun,
  hvilke felter der er rettet, aldrig værdierne. Erklæringer, der allerede er udskrevet,
  beholder det gamle navn.

  Baggrund:
    Givet en registreret borger ved navn "Åse Aaberg"

  Regel: Rettelse kræver en begrundelse

    Scenarie: Uden begrundelse ændres intet
      Når navigatøren retter navnet til "Åse Åberg" uden begrundelse
      Så afvises rettelsen med beskeden "Skriv en begrundelse for rettelsen."
      Og borgeren hedder stadig "Åse Aaberg"
      Og borgeren har ingen rettelser

  Regel: Kun det, der ændres, gemmes med før og efter

    Scenarie: Navnet rettes
      Når navigatøren retter navnet til "Åse Åberg" med begrundelsen "Stavefejl ved registreringen"
      Så hedder borgeren "Åse Åberg"
      Og historikken viser feltet "Navn" rettet fra "Åse Aaberg" til "Åse Åberg" med begrundelsen "Stavefejl ved registreringen"
      Og historikken viser ingen andre felter
      Og loggen nævner feltet "name" og ingen værdier
