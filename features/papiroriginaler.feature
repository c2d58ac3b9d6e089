# language: da
Egenskab: De underskrevne papiroriginaler er gjort rede for
  Projektbeskrivelsen kræver, at de underskrevne samtykkeerklæringer på papir opbevares
  aflåst, kun er tilgængelige for autoriserede personer, og slettes efter projektet
  (GDPR art. 5, stk. 1, litra e og f). Derfor har hver registreret underskrevet
  erklæring en historik: hvor originalen ligger (en placering fra den dataansvarliges
  liste), hvem der tog den ud og hvorfor, at den blev lagt tilbage, og til sidst hvem der
  destruerede den og hvordan (policies/paper.yaml, retention/schedule.yaml).

  Baggrund:
    Givet en borger med et registreret underskrevet trivselssamtykke
    Og den dataansvarlige har placeringen "Skab 2, Grenaa Sundhedshus"

  Regel: En underskrevet original kan findes

    Scenarie: Originalen lægges på plads og kan findes
      Når navigatøren lægger originalen i "Skab 2, Grenaa Sundhedshus"
      Så ligger originalen i "Skab 2, Grenaa Sundhedshus"

  Regel: At tage en original ud og lægge den tilbage registreres

    Scenarie: Originalen tages ud og lægges tilbage
      Givet navigatøren har lagt originalen i "Skab 2, Grenaa Sundhedshus"
      Når navigatøren tager originalen ud med begrundelsen "Kopi til borgeren"
      Så er originalen udtaget
      Og en original, der er udtaget, kan ikke tages ud igen
      Når navigatøren lægger originalen tilbage i "Skab 2, Grenaa Sundhedshus"
      Så ligger originalen i "Skab 2, Grenaa Sundhedshus"
      Og historikken viser "Lagt på plads, Taget ud, Lagt tilbage"

  Regel: Efter projektets afslutning skal originalen makuleres, og det registreres af hvem og hvordan

    Scenarie: Originalen venter på makulering efter projektets afslutning
      Givet navigatøren har lagt originalen i "Skab 2, Grenaa Sundhedshus"
      Når projektet er slut
      Så venter originalen på makulering
      Når "Nina Navigatør" registrerer originalen destrueret med "makuleret"
      Så er originalen destrueret af "Nina Navigatør" med "makuleret"
      Og venter originalen ikke længere på makulering
      Og en destrueret original kan ikke lægges på plads igen
